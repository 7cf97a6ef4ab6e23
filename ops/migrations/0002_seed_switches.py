"""Create the switch rows so that operators find them in the admin (all on, as defined in code)."""

from django.db import migrations

SWITCH_NAMES = ["voice_cloning"]


def seed(apps, schema_editor):
    Switch = apps.get_model("ops", "Switch")
    for name in SWITCH_NAMES:
        Switch.objects.get_or_create(name=name, defaults={"enabled": True, "reason": "Default."})


def unseed(apps, schema_editor):
    apps.get_model("ops", "Switch").objects.filter(name__in=SWITCH_NAMES, changes__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("ops", "0001_switches")]

    operations = [migrations.RunPython(seed, unseed)]
