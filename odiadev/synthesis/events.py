"""Job events to the owner's websockets, sent after the transaction that changed the job commits."""

from __future__ import annotations

import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .models import SynthesisJob
from .serializers import job_payload

logger = logging.getLogger(__name__)


def jobs_group_for(user_id: int) -> str:
    return f"jobs.{user_id}"


def _send(group: str, payload: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, {"type": "job.updated", "job": payload})
    except Exception:  # a lost event must not undo or fail the state change; clients can always GET the job
        logger.warning("could not send job event to %s", group, exc_info=True)


def job_event_send(job: SynthesisJob) -> None:
    """Announce the job's current state to its owner; deferred until the surrounding transaction commits."""
    transaction.on_commit(partial(_send, jobs_group_for(job.user_id), job_payload(job)))
