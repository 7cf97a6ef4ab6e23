"""Small helpers for the webhook tests: endpoints registered through the service, events through the real
synthesis and voice services."""

from __future__ import annotations

import json

from synthesis.transitions import synthesis_job_fail
from tests.factories import QueuedJobFactory
from webhooks.models import WebhookDelivery
from webhooks.services import IssuedEndpoint, webhook_endpoint_create


def register(user, url: str, events=("job.succeeded", "job.failed")) -> IssuedEndpoint:
    return webhook_endpoint_create(user=user, url=url, events=list(events), description="test")


def fail_a_job(user):
    """A queued job of `user` that the synthesis service fails (the `job.failed` event)."""
    job = QueuedJobFactory(user=user)
    assert synthesis_job_fail(job_id=job.id, code="engine_error", message="The engine broke.")
    return job


def only_delivery(endpoint) -> WebhookDelivery:
    return WebhookDelivery.objects.get(endpoint=endpoint)


def received(receiver) -> list[tuple[dict, bytes, dict]]:
    """(headers, raw body, parsed body) of each request the receiver got, in order."""
    return [(dict(request.headers), request.get_data(), json.loads(request.get_data())) for request, _ in receiver.log]
