"""The ops tasks (KPI rollups, lifecycle policy, abuse checks). Imported by workers only (task autodiscovery)."""

from celery import shared_task


@shared_task(name="ops.rollup_kpis", acks_late=True)
def kpi_rollups_refresh_task() -> int:
    from .rollups import rollups_refresh

    return rollups_refresh()


@shared_task(name="ops.lifecycle_policy", acks_late=True)
def lifecycle_policy_task() -> dict:
    """The weekly lifecycle policy (beat); see ops.lifecycle."""
    from .lifecycle import lifecycle_run

    report = lifecycle_run(apply=True, trigger="schedule")
    return {"report": report.pk, "items": report.items_total, "bytes": report.bytes_total}


@shared_task(name="ops.check_storage_growth", acks_late=True)
def storage_growth_check_task() -> int:
    """Hourly: flag accounts whose stored bytes spiked (see ops.abuse_checks). Idempotent: a flag is
    raised once per account and day."""
    from .abuse_checks import storage_growth_check

    return len(storage_growth_check())
