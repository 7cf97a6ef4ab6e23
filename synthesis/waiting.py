"""Waiting for a job to finish (requests sent with `"wait": true`, the OpenAI-compatible endpoint), on its event.

Every change of a job is announced after its commit as `job.updated` to its owner's channel-layer group (the one
the websocket consumer joins; synthesis.events). The waiter joins that group first, then reads the job once (it may
be final already), then awaits the event that says it is final; only if none comes for `TTS_WAIT_RECHECK` seconds
(an event lost with a Redis hiccup, a full channel) does it read the row once more. No polling: a waiting request
costs two reads, and in async code no thread at all.
"""

from __future__ import annotations

import asyncio
import logging
import time

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers, get_channel_layer
from django.conf import settings

from core.events import user_group

from .models import FINAL_STATUSES, SynthesisJob

logger = logging.getLogger(__name__)

_FINAL = {str(status) for status in FINAL_STATUSES}


def _job_read(job_id) -> SynthesisJob:
    return SynthesisJob.objects.select_related("user").get(pk=job_id)


async def synthesis_job_wait_async(*, job: SynthesisJob, timeout: float, layer=None) -> SynthesisJob:
    """Await the job's final state, or `timeout` seconds; return the freshest row either way."""
    if job.is_final:
        return job
    deadline = time.monotonic() + timeout
    layer = layer or get_channel_layer()
    group, channel = user_group(job.user_id), None
    try:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)  # before the read: an event sent after it cannot be missed
    except Exception:  # no events (Redis away): the rechecks below still find the end, as polling did
        logger.warning("job %s: waiting without events (channel layer unavailable)", job.id, exc_info=True)
        channel = None
    try:
        job = await sync_to_async(_job_read)(job.pk)
        while not job.is_final and (left := deadline - time.monotonic()) > 0:
            if await _final_event(layer, channel, job_id=str(job.pk), timeout=min(left, settings.TTS_WAIT_RECHECK)):
                job = await sync_to_async(_job_read)(job.pk)
                continue
            job = await sync_to_async(_job_read)(job.pk)  # no event for a while: it may have been missed
    finally:
        if channel is not None:
            try:
                await layer.group_discard(group, channel)
            except Exception:  # the group entry expires on its own
                logger.warning("could not leave %s", group, exc_info=True)
    return job


async def _final_event(layer, channel, *, job_id: str, timeout: float) -> bool:
    """True once an event says the job is final; False after `timeout` seconds without one."""
    if channel is None:
        await asyncio.sleep(timeout)
        return False
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await layer.receive(channel)
                job = message.get("job") or {}
                if message.get("type") == "job.updated" and job.get("id") == job_id and job.get("status") in _FINAL:
                    return True
    except TimeoutError:
        return False
    except Exception:  # the layer failed mid-wait: fall back to reading the row after the interval
        logger.warning("job %s: channel layer receive failed", job_id, exc_info=True)
        await asyncio.sleep(timeout)
        return False


def synthesis_job_wait(*, job: SynthesisJob, timeout: float) -> SynthesisJob:
    """`synthesis_job_wait_async` for sync callers (DRF views): returns as soon as the job's event arrives.

    The calling thread waits; under Daphne the wait itself runs on the server's event loop. A channel layer of its
    own per call: callers in threads without that loop (tests, WSGI) each get an event loop of their own, and one
    layer instance may receive on only one loop at a time."""

    async def wait() -> SynthesisJob:
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        try:
            return await synthesis_job_wait_async(job=job, timeout=timeout, layer=layer)
        finally:
            try:
                await layer.close_pools()
            except Exception:
                logger.debug("closing a waiter's channel layer failed", exc_info=True)

    return async_to_sync(wait)()
