"""Fill audio retention and storage quota of the shipped plans from the catalog (Free 7 days / 100 MB, Starter 30 /
1000, Pro 90 / 5000, Business 365 / 20000). Plans an operator added keep the field defaults."""

from django.db import migrations

from billing.plans import PLAN_CATALOG

FIELDS = ("audio_retention_days", "storage_quota_mb")


def fill(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for spec in PLAN_CATALOG:
        Plan.objects.filter(slug=spec["slug"]).update(**{field: spec[field] for field in FIELDS})


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_plan_audio_retention_and_storage_quota")]

    # Reversing leaves the values: 0005's reversal drops the columns anyway.
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
