"""Job events to the owner's websockets and webhooks."""

from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import transaction

from core.events import user_event_send
from webhooks.services import webhook_event_emit

from .models import SynthesisJob
from .serializers import job_payload
from .waiting import job_final_announce


def job_event_send(job: SynthesisJob, *, created: bool = False, then: Callable[[], object] | None = None) -> None:
    """Announce the job's current state to its owner (and, once it is final, to the requests waiting for it);
    deferred until the surrounding transaction commits. A live job's pieces are not announced: the context's socket
    delivers them, and the live job is the one job the owner sees. `created`: the job is new in this transaction,
    so no request can be waiting for it yet. `then`: what must follow the announcement on commit (sending the
    job's task: the worker announces the next state; core.events.user_event_send)."""
    # The waiting requests first: each holds a client on the line (one PUBLISH), the sockets' event follows.
    if job.is_final and not created:
        transaction.on_commit(partial(job_final_announce, job.id))
    if job.parent_id is None:
        user_event_send(job.user_id, "job.updated", "job", job_payload(job), then=then)
    elif then is not None:
        transaction.on_commit(then)


def job_webhook_emit(job: SynthesisJob, *, revision: int | None = None) -> None:
    """Store `job.succeeded` / `job.failed` for the owner's webhook endpoints. Call in the transaction that made
    the job final, right after the change; the deliveries go out once it commits. (Not for a live job's pieces.)
    `revision`: the account's, confirmed under its lock in this transaction (webhook_event_emit)."""
    if job.parent_id is not None:
        return
    event_type = {"succeeded": "job.succeeded", "failed": "job.failed"}[job.status]
    # Absolute links: the receiver is not on our site. The audio link expires (TTS_AUDIO_URL_TTL): GET the job for
    # a fresh one.
    webhook_event_emit(
        user_id=job.user_id,
        event_type=event_type,
        data=lambda: {"job": job_payload(job, base_url=settings.PUBLIC_BASE_URL)},
        revision=revision,
    )
