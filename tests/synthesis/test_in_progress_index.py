"""Counts over an account's jobs read one index, (user, parent, status), not every job the account ever made. A new
job counts its account's jobs in progress (the plan's job slots) while it holds the account's lock: with 81,000
jobs in an account's history that took 48 ms per submit on SQLite, submits of the account waiting on the lock
meanwhile. A listing counts the account's jobs (not a live job's pieces) for its `count`: 62-97 ms, now 4 ms."""

import pytest
from django.db import connection

from synthesis.selectors import job_list_for
from synthesis.services import jobs_in_progress

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("jobs", [jobs_in_progress, job_list_for], ids=["in progress", "listed"])
def test_on_sqlite_an_accounts_jobs_are_counted_from_the_user_parent_status_index(user, jobs):
    if connection.vendor != "sqlite":
        # PostgreSQL plans from the table's statistics (kept by autovacuum): which index it picks for a test's
        # table says nothing about a large one. SQLite keeps none (nothing runs ANALYZE) and plans by the indexes.
        pytest.skip("SQLite's plan only")
    plan = jobs(user=user).order_by().explain()  # (as `.count()` asks it: no ordering)

    assert "job_user_parent_status" in plan, plan
