"""Seed the shipped plans (Free, Starter, Pro, Business); operators edit them in the admin afterwards."""

from django.db import migrations

from billing.plans import PLAN_CATALOG


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    # The catalog grows with later migrations (0006 fills audio retention and storage quota): seed only the
    # fields this historical model has, so a fresh database migrates from scratch.
    fields = {field.name for field in Plan._meta.get_fields()}
    for spec in PLAN_CATALOG:
        defaults = {k: v for k, v in spec.items() if k != "slug" and k in fields}
        Plan.objects.get_or_create(slug=spec["slug"], defaults=defaults)


def unseed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    Plan.objects.filter(slug__in=[spec["slug"] for spec in PLAN_CATALOG], accounts__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_plans_and_accounts")]

    operations = [migrations.RunPython(seed, unseed)]
