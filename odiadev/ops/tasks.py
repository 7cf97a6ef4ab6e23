"""Worker process start-up shared by every app (the heartbeat), and the periodic abuse checks. Imported by workers
only (task autodiscovery)."""

import os

from celery import shared_task
from celery.signals import worker_process_init, worker_ready

from .heartbeat import heartbeat_start


@worker_process_init.connect(weak=False)
def _start_heartbeat(**_kwargs) -> None:
    # Connected after the apps' own warm-up handlers (this module is discovered last), so the first beat
    # already reports what they loaded.
    heartbeat_start(queues=os.environ.get("WORKER_QUEUES", "synth,default").split(","))


@worker_ready.connect(weak=False)
def _start_heartbeat_solo(sender=None, **_kwargs) -> None:
    # The solo and threads pools run tasks in the main process, where worker_process_init never fires.
    pool_module = type(getattr(sender, "pool", None)).__module__
    if pool_module in {"celery.concurrency.solo", "celery.concurrency.thread"}:
        worker_process_init.send(sender=None)


@shared_task(name="ops.check_storage_growth", acks_late=True)
def storage_growth_check_task() -> int:
    """Hourly: flag accounts whose stored bytes spiked (see ops.abuse.storage_growth_check). Idempotent: a flag is
    raised once per account and day."""
    from .abuse import storage_growth_check

    return len(storage_growth_check())
