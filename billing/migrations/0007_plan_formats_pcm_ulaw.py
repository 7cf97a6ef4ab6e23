"""Give the shipped paid plans (Starter, Pro, Business) the new raw formats, `pcm` and `ulaw`, as the catalog does.

Only the formats new with this migration are added, and only where the catalog grants them: a format an operator
took away from a plan stays away, and plans an operator added are left alone.
"""

from django.db import migrations

from billing.plans import PLAN_CATALOG

NEW_FORMATS = ("pcm", "ulaw")


def add_formats(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for spec in PLAN_CATALOG:
        granted = [fmt for fmt in NEW_FORMATS if fmt in spec["allowed_formats"]]
        for plan in Plan.objects.filter(slug=spec["slug"]):
            missing = [fmt for fmt in granted if fmt not in plan.allowed_formats]
            if missing:
                plan.allowed_formats = [*plan.allowed_formats, *missing]
                plan.save(update_fields=["allowed_formats"])


def remove_formats(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for plan in Plan.objects.filter(slug__in=[spec["slug"] for spec in PLAN_CATALOG]):
        kept = [fmt for fmt in plan.allowed_formats if fmt not in NEW_FORMATS]
        if kept != plan.allowed_formats:
            plan.allowed_formats = kept
            plan.save(update_fields=["allowed_formats"])


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_seed_plan_retention_and_quota")]

    operations = [migrations.RunPython(add_formats, remove_formats)]
