"""Migration operations shared by the apps' migrations.

An index on a large table (the jobs, the ledger) is built without blocking writes where the database can: the
upgrade rule (docs/operations.md, "Upgrade") wants new indexes built concurrently, since a rolling upgrade keeps
serving while `migrate` runs. PostgreSQL builds it with CREATE INDEX CONCURRENTLY (the migration must then say
`atomic = False`); SQLite, the one-machine default, has no such form and builds it as usual.
"""

from __future__ import annotations

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class AddIndexConcurrentlyWherePossible(AddIndexConcurrently):
    def describe(self) -> str:
        fields = ", ".join(self.index.fields)
        return f"Create index {self.index.name} on {fields} of {self.model_name} (concurrently on PostgreSQL)"

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
