from django.db import migrations, models

from core.migration_operations import AddIndexConcurrentlyWherePossible


class Migration(migrations.Migration):
    # The jobs table is the largest: on PostgreSQL the index is built without blocking job writes (outside a
    # transaction, which CREATE INDEX CONCURRENTLY needs).
    atomic = False

    dependencies = [
        ("synthesis", "0017_job_finished_index"),
    ]

    operations = [
        AddIndexConcurrentlyWherePossible(
            model_name="synthesisjob",
            index=models.Index(fields=["user", "parent", "status"], name="job_user_parent_status"),
        ),
    ]
