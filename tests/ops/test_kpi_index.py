"""The ops KPIs read the jobs finished in a window (a rollup's bucket, the panel's tiles, revenue per GPU hour) through
an index on the finish time, not by reading every job the platform ever made."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from synthesis.models import SynthesisJob

pytestmark = pytest.mark.django_db


def test_the_jobs_finished_in_a_window_are_found_through_the_finish_time_index():
    until = timezone.now()
    # Unordered, as the KPIs' aggregates read it: the model's default ordering (newest first) let the planner walk
    # the created_at index instead whenever it guessed the window held a row or so (a CI run on a busy machine).
    window = SynthesisJob.objects.filter(
        finished_at__gte=until - timedelta(minutes=5), finished_at__lt=until
    ).order_by()

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test's table is nearly empty, where reading it all is cheapest: ask which index serves the window.
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = window.explain()

    assert "job_finished" in plan, plan
