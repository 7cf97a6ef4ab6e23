"""docs/operations.md, Upgrade: a new index on a large table is built concurrently on PostgreSQL (the site serving
meanwhile), through core.migration_operations.AddIndexConcurrentlyWherePossible in a non-atomic migration."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

# (app, migration, index) of every index added to a large table since the rule.
CONCURRENT = [
    ("synthesis", "0017", "job_finished"),
    ("synthesis", "0018", "job_user_parent_status"),
]


@pytest.mark.django_db(transaction=True)  # CREATE INDEX CONCURRENTLY is refused inside a transaction
@pytest.mark.parametrize(("app", "migration", "index"), CONCURRENT)
def test_on_postgresql_the_index_is_built_without_blocking_writes(app, migration, index):
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL builds indexes concurrently; SQLite builds it as usual")
    sql = StringIO()
    call_command("sqlmigrate", app, migration, stdout=sql)
    assert f'CREATE INDEX CONCURRENTLY "{index}"' in sql.getvalue()
