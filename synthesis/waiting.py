"""Waiting for a job to finish (requests sent with `"wait": true`, the OpenAI-compatible endpoint), as an event.

Every change that makes a job final goes through `job_event_send` (synthesis.events), which announces it here once
the change commits. A waiting request awaits that announcement on the event loop (core.notify; the view returns a
core.deferred response), holding neither a thread nor a database connection, and reads the job once when it comes.
Should the announcement be lost (Redis away at that moment), the waiter reads the job's status every
`TTS_WAIT_CHECK_SECONDS`.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings

from core.deferred import connections_release
from core.notify import event_publish, event_wait

from .models import FINAL_STATUSES, SynthesisJob


def _topic(job_id) -> str:
    return f"job-final:{job_id}"


def job_final_announce(job_id) -> None:
    """Wake the requests waiting for this job (call after the change that made it final has committed)."""
    event_publish(_topic(job_id))


def _is_final(job_id) -> bool:
    try:
        return SynthesisJob.objects.filter(pk=job_id, status__in=FINAL_STATUSES).exists()
    finally:
        connections_release()


async def job_final_wait(job_id, *, timeout: float) -> bool:
    """True once the job is final; False after `timeout` seconds."""
    return await event_wait(
        _topic(job_id),
        timeout=timeout,
        check=lambda: sync_to_async(_is_final)(job_id),
        check_every=settings.TTS_WAIT_CHECK_SECONDS,
    )
