"""Stripe's webhook deliveries: intake in the request (verify, store, queue) and processing in a task (dj-stripe
re-reads the objects from Stripe, then `stripe_event_apply` applies the effect once); a sweeper re-sends lost ones."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from djstripe import models as djstripe_models
from djstripe.models.webhooks import get_remote_ip

from core.parsers import json_document_parse
from core.tasks import task_send

from ..errors import InvalidWebhook, InvalidWebhookPayload, PaymentsNotConfigured
from ..models import StripeEventEffect
from .handlers import stripe_event_apply

logger = logging.getLogger(__name__)

PROCESS_EVENT_TASK = "billing.process_stripe_event"


def _stripe_event_parse(body: str) -> dict:
    """The event in a verified body, or `InvalidWebhookPayload`: a signature proves who sent it, not its shape."""
    try:
        data = json_document_parse(body)
    except ValueError as exc:
        raise InvalidWebhookPayload("The body is not a JSON object.") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("id"), str)
        or not isinstance(data.get("type"), str)
        or "data" not in data
    ):
        raise InvalidWebhookPayload("The body is not a Stripe event.")
    return data


def webhook_receive(*, request) -> tuple[djstripe_models.WebhookEventTrigger, dict, bool]:
    """Verify and store a webhook delivery; returns the trigger, its event and whether it must be processed (False
    when the event's effect is already applied). A bad or stale signature raises `InvalidWebhook` and stores nothing."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise PaymentsNotConfigured("Stripe webhooks are not configured on this server (STRIPE_WEBHOOK_SECRET).")
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidWebhookPayload("The body is not UTF-8.") from exc
    trigger = djstripe_models.WebhookEventTrigger(
        remote_ip=get_remote_ip(request), headers=dict(request.headers), body=body
    )
    if not trigger.verify_signature(secret=secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE):
        raise InvalidWebhook("The Stripe-Signature header does not match this body, or it is too old.")
    data = _stripe_event_parse(body)
    trigger.valid = True
    # A redelivery of an event already applied is kept (as processed) for the record, and not queued again.
    trigger.processed = StripeEventEffect.objects.filter(event_id=data["id"]).exists()
    trigger.save()
    if not trigger.processed:
        transaction.on_commit(lambda: stripe_trigger_enqueue(trigger_id=trigger.pk))
    return trigger, data, not trigger.processed


def stripe_trigger_enqueue(*, trigger_id: int) -> None:
    task_send(
        PROCESS_EVENT_TASK,
        args=[trigger_id],
        queue="default",
        failure=f"could not enqueue Stripe webhook {trigger_id}; the sweeper will retry",
        logger=logger,
    )


def stripe_event_process(*, trigger_id: int) -> str:
    """Process one stored delivery: dj-stripe syncs the event's objects from Stripe, then the effect is applied
    once. Raises on Stripe or database errors (the task retries); returns the outcome."""
    trigger = djstripe_models.WebhookEventTrigger.objects.get(pk=trigger_id)
    event_id = trigger.json_body.get("id", "")
    if trigger.processed or StripeEventEffect.objects.filter(event_id=event_id).exists():
        djstripe_models.WebhookEventTrigger.objects.filter(pk=trigger_id).update(processed=True)
        return "duplicate"
    try:
        event = trigger.process(save=True, api_key=settings.STRIPE_SECRET_KEY)
    except IntegrityError:
        # A concurrent delivery of the same event synced the same objects first: use its event.
        event = djstripe_models.Event.objects.get(id=event_id)
    return stripe_event_apply(event=event)


def stripe_triggers_sweep(*, older_than_seconds: int = 300) -> int:
    """Re-enqueue valid deliveries left unprocessed (a lost task message, a worker that died). Returns how many."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    ids = list(
        djstripe_models.WebhookEventTrigger.objects.filter(valid=True, processed=False, created__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for trigger_id in ids:
        stripe_trigger_enqueue(trigger_id=trigger_id)
    return len(ids)
