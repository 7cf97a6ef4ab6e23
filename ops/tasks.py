"""Worker process start-up shared by every app (the heartbeat), and the ops tasks (KPI rollups, lifecycle policy,
abuse checks). Imported by workers only (task autodiscovery)."""

import os

from celery import shared_task
from celery.signals import worker_process_init, worker_ready

from core.heartbeat import heartbeat_start


@worker_process_init.connect(weak=False)
def _start_heartbeat(**_kwargs) -> None:
    # Connected after the apps' own warm-up handlers (this module is discovered last), so the first beat
    # already reports what they loaded.
    heartbeat_start(queues=_consumed_queues())


def _consumed_queues() -> list[str]:
    """The queues this worker consumes (its -Q), as the worker's app knows them; WORKER_QUEUES if it cannot say."""
    from celery import current_app

    consumed = sorted(getattr(current_app.amqp.queues, "consume_from", None) or [])
    return consumed or os.environ.get("WORKER_QUEUES", "synth,default").split(",")


@worker_ready.connect(weak=False)
def _start_heartbeat_solo(sender=None, **_kwargs) -> None:
    # The solo and threads pools run tasks in the main process, where worker_process_init never fires.
    pool_module = type(getattr(sender, "pool", None)).__module__
    if pool_module in {"celery.concurrency.solo", "celery.concurrency.thread"}:
        worker_process_init.send(sender=None)


@shared_task(name="ops.rollup_kpis", acks_late=True)
def kpi_rollups_refresh_task() -> int:
    from .kpis import rollups_refresh

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
