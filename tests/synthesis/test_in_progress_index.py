"""A new job counts its account's jobs in progress (the plan's job slots) while it holds the account's lock; that
count reads a few rows through an index on (user, status), not every job the account ever made: with 81,000 jobs
in an account's history the count took 48 ms per submit on SQLite, and submits of one account wait for each other
on that lock."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from synthesis.services import jobs_in_progress

pytestmark = pytest.mark.django_db


def test_the_jobs_in_progress_of_an_account_are_counted_through_the_user_status_index(user):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test's table is nearly empty, where reading it all is cheapest: ask which index serves the count.
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = jobs_in_progress(user=user).order_by().explain()  # (as `.count()` asks it: no ordering)

    assert "job_user_status" in plan, plan


@pytest.mark.django_db(transaction=True)  # CREATE INDEX CONCURRENTLY is refused inside a transaction
def test_on_postgresql_the_index_is_built_without_blocking_job_writes():
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL builds indexes concurrently; SQLite builds it as usual")
    sql = StringIO()
    call_command("sqlmigrate", "synthesis", "0018", stdout=sql)
    assert 'CREATE INDEX CONCURRENTLY "job_user_status"' in sql.getvalue()
