"""Run on the web host by the multi-host test (`python -m tests.multihost.schema`): the cluster's tables, built from
the models as pytest-django's `--nomigrations` builds the suite's. A full `migrate` costs a minute of CPU on a 2-core
machine; the migrations are the suite's concern (tests/test_upgrade.py), not this test's. Rows that data migrations
seed (plans, switches) are created on first use, as in any flushed test database."""

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402


class _NoMigrations(dict):
    def __contains__(self, app_label) -> bool:
        return True

    def __getitem__(self, app_label) -> None:
        return None


if __name__ == "__main__":
    settings.MIGRATION_MODULES = _NoMigrations()
    call_command("migrate", run_syncdb=True, interactive=False, verbosity=0)
