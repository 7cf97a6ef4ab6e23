"""Waiting for a job to finish (requests sent with `"wait": true`, the OpenAI-compatible endpoint), as an event.

Every change that makes a job final goes through `job_event_send` (synthesis.events), which announces it here once
the change commits. A waiting request awaits that announcement on the event loop (core.notify; the view returns a
core.deferred response), holding neither a thread nor a database connection, and reads the job once when it comes.
Should the announcement be lost (Redis away at that moment), the waiter reads the job's status every
`TTS_WAIT_CHECK_SECONDS`.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings

from core.db import connections_release
from core.notify import event_publish, event_wait

from .models import FINAL_STATUSES, SynthesisJob
from .streaming import StreamEnd, stream_first_entry


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


async def job_audio_start_wait(job_id, *, timeout: float) -> bytes | StreamEnd | None:
    """For a streamed job: the first entry of its audio stream (a piece, or the end mark of a stream that had no
    audio) as soon as there is one; None when the job became final first (a cache hit served by another path, a
    failure before any audio) or after `timeout` seconds. The caller reads the job to decide what to answer."""
    first = asyncio.ensure_future(stream_first_entry(job_id=job_id, timeout=timeout))
    final = asyncio.ensure_future(job_final_wait(job_id, timeout=timeout))
    try:
        await asyncio.wait({first, final}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (first, final):
            if not task.done():
                task.cancel()
        await asyncio.gather(first, final, return_exceptions=True)
    if first.done() and not first.cancelled() and first.exception() is None:
        return first.result()
    return None
