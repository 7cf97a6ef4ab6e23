"""Writes for webhooks: endpoints and their secrets, events turned into stored deliveries, and each attempt.

An event becomes one `WebhookDelivery` per subscribed endpoint, written by `webhook_event_emit` inside the
transaction of the change it announces (the row is the outbox: no committed change without its deliveries, no
delivery of a change that rolled back); the task goes out on commit. `webhook_delivery_attempt` takes a short
lease on the row, POSTs outside any transaction (`transport`), then logs the attempt and schedules the next one with
backoff (WEBHOOK_RETRY_SCHEDULE) until WEBHOOK_RETRY_WINDOW has passed, when the delivery is failed.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from billing.services import account_revision_bump
from billing.terms import KeptPerAccount
from core.tasks import task_send

from .errors import WebhookEndpointLimit, WebhookEventsInvalid
from .models import TEST_EVENT, DeliveryStatus, EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .targets import target_resolve
from .transport import RESPONSE_BODY_PREFIX, AttemptResult, delivery_post

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.deliver"
SECRET_SCHEME = "whsec"  # noqa: S105 - the prefix of generated secrets, not a secret
MAX_ENDPOINTS_PER_ACCOUNT = 20
# Longer than one attempt can take (connect + read timeouts, plus the body prefix): the task's hard time limit.
ATTEMPT_LEASE_SECONDS = 60
# A task may run a moment before its due time (clocks, countdown rounding): close enough counts as due.
DUE_SLACK_SECONDS = 1.0


@dataclass(frozen=True)
class IssuedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown to the customer once, at creation and after each rotation


# ---------------------------------------------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------------------------------------------
def _secret_new() -> str:
    return f"{SECRET_SCHEME}_{secrets.token_urlsafe(32)}"


def events_check(events) -> list[str]:
    """The subscribed event types, deduplicated and in a stable order; refuses an empty list or an unknown type."""
    if not isinstance(events, list | tuple) or not events or not all(isinstance(e, str) for e in events):
        raise WebhookEventsInvalid(
            "Subscribe to at least one event type.", detail={"supported": list(EventType.values)}
        )
    unknown = sorted(set(events) - set(EventType.values))
    if unknown:
        raise WebhookEventsInvalid(
            f"Unknown event type(s): {', '.join(unknown)}.",
            detail={"unknown": unknown, "supported": list(EventType.values)},
        )
    return [event for event in EventType.values if event in events]


def webhook_endpoint_create(*, user, url: str, events, description: str = "") -> IssuedEndpoint:
    """Register an endpoint after checking where its URL resolves to; the new secret is returned once."""
    events = events_check(events)
    target = target_resolve(url)
    secret = _secret_new()
    with transaction.atomic():
        account_revision_bump(user_id=user.pk)
        if WebhookEndpoint.objects.filter(user=user).count() >= MAX_ENDPOINTS_PER_ACCOUNT:
            raise WebhookEndpointLimit(
                f"An account can register {MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints. Delete one first.",
                detail={"max": MAX_ENDPOINTS_PER_ACCOUNT},
            )
        endpoint = WebhookEndpoint.objects.create(
            user=user, url=target.url, events=events, description=(description or "").strip()[:200], secret=secret
        )
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, url: str | None = None, events=None, description: str | None = None
) -> WebhookEndpoint:
    """Change the URL (checked like a new one), the subscribed events or the description."""
    fields = ["updated_at"]
    if events is not None:
        endpoint.events = events_check(events)
        fields.append("events")
    if url is not None:
        endpoint.url = target_resolve(url).url
        fields.append("url")
    if description is not None:
        endpoint.description = description.strip()[:200]
        fields.append("description")
    with transaction.atomic():
        account_revision_bump(user_id=endpoint.user_id)
        endpoint.save(update_fields=fields)
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its deliveries; an attempt already in flight finds its row gone and stops."""
    with transaction.atomic():
        account_revision_bump(user_id=endpoint.user_id)
        endpoint.delete()


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> IssuedEndpoint:
    """A new signing secret, returned once. For WEBHOOK_SECRET_ROTATION_GRACE seconds deliveries are signed with
    the old secret too, so a receiver can deploy the new one without rejecting events meanwhile."""
    now = timezone.now()
    secret = _secret_new()
    grace = settings.WEBHOOK_SECRET_ROTATION_GRACE
    endpoint.previous_secret = endpoint.secret if grace > 0 else ""
    endpoint.previous_secret_expires_at = now + timedelta(seconds=grace) if grace > 0 else None
    endpoint.secret = secret
    endpoint.secret_rotated_at = now
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "secret_rotated_at", "updated_at"]
    )
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


# ---------------------------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------------------------
def _event(event_type: str, data: dict, now) -> dict:
    # Round-tripped through JSON so the stored payload is exactly what is sent (UUIDs, datetimes as strings).
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": event_type,
        "created": now.isoformat(),
        "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    }


_subscriptions_kept = KeptPerAccount()


def _subscriptions_read(user_id: int) -> tuple[tuple[uuid.UUID, tuple[str, ...]], ...]:
    """(endpoint id, its events) of each of the account's endpoints. Few per account, and JSON containment is not
    portable to SQLite: the caller filters."""
    rows = WebhookEndpoint.objects.filter(user_id=user_id).values_list("id", "events")
    return tuple((endpoint_id, tuple(events)) for endpoint_id, events in rows)


def webhook_event_emit(
    *, user_id: int, event_type: str, data: dict | Callable[[], dict], revision: int | None = None
) -> list[WebhookDelivery]:
    """Store a delivery of the event for each of the account's endpoints that subscribes to it; their tasks are
    sent once the surrounding transaction commits. `data` may be a function that builds it: it is only called when
    an endpoint subscribes (most accounts have none, and a job's payload is not free to build).

    Call inside the transaction that makes the change the event announces, right after the change. `revision`:
    the account's revision as this transaction holds it locked (billing/terms.py), to use this process's copy of
    the endpoints read for it instead of reading them."""
    if event_type not in EventType.values:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if revision is None:
        subscriptions = _subscriptions_read(user_id)
    else:
        subscriptions = _subscriptions_kept.get(user_id, revision, lambda: _subscriptions_read(user_id))
    endpoints = [endpoint_id for endpoint_id, events in subscriptions if event_type in events]
    if not endpoints:
        return []
    now = timezone.now()
    event = _event(event_type, data() if callable(data) else data, now)
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_id=event["id"],
                event_type=event_type,
                payload=event,
                next_attempt_at=now,
                give_up_at=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW),
            )
            for endpoint_id in endpoints
        ]
    )
    ids = [delivery.id for delivery in deliveries]
    transaction.on_commit(lambda: [webhook_delivery_enqueue(delivery_id=delivery_id) for delivery_id in ids])
    return deliveries


def webhook_test_send(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `webhook.test` event to the endpoint, whatever it subscribes to. One attempt, no automatic retry."""
    now = timezone.now()
    data = {
        "webhook": {"id": str(endpoint.id), "url": endpoint.url},
        "message": "A test event from ODIADEV-TTS. Verify its signature like any other event.",
    }
    event = _event(TEST_EVENT, data, now)
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=event["id"],
            event_type=TEST_EVENT,
            payload=event,
            next_attempt_at=now,
            give_up_at=now,
        )
        transaction.on_commit(lambda: webhook_delivery_enqueue(delivery_id=delivery.id))
    return delivery


def webhook_delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (the same event id, so receivers can recognise a duplicate), with a fresh retry
    window; whatever its status. Its earlier attempts stay in the log."""
    now = timezone.now()
    window = 0 if delivery.event_type == TEST_EVENT else settings.WEBHOOK_RETRY_WINDOW
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            give_up_at=now + timedelta(seconds=window),
            delivered_at=None,
            updated_at=now,
        )
        transaction.on_commit(lambda: webhook_delivery_enqueue(delivery_id=delivery.pk))
    delivery.refresh_from_db()
    return delivery


def webhook_delivery_enqueue(*, delivery_id, countdown: float = 0) -> bool:
    """Send the delivery's task. Call only after its row is committed; a failure is left to the sweeper."""
    return task_send(
        DELIVER_TASK,
        args=[str(delivery_id)],
        queue="default",
        countdown=max(0.0, countdown),
        failure=f"could not enqueue webhook delivery {delivery_id}; the sweeper will retry",
        logger=logger,
    )


# ---------------------------------------------------------------------------------------------------------------
# Attempts
# ---------------------------------------------------------------------------------------------------------------
def retry_delay(attempt_number: int) -> float:
    """Seconds to wait after failed attempt number `attempt_number` (1-based); the schedule's last value repeats."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE or [60.0]
    return float(schedule[min(attempt_number, len(schedule)) - 1])


def webhook_delivery_attempt(*, delivery_id) -> str:
    """Make the due attempt of a pending delivery, log it, and schedule the next one; returns the new status, or
    "skipped" when there is nothing to do (not due, already final, or another attempt holds the lease)."""
    now = timezone.now()
    lease_until = now + timedelta(seconds=ATTEMPT_LEASE_SECONDS)
    claimed = (
        WebhookDelivery.objects.filter(
            pk=delivery_id,
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now + timedelta(seconds=DUE_SLACK_SECONDS),
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=lease_until)
    )
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"  # its endpoint was deleted a moment ago
    result = delivery_post(delivery)
    return _attempt_record(delivery=delivery, result=result)


def _attempt_record(*, delivery: WebhookDelivery, result: AttemptResult) -> str:
    now = timezone.now()
    number = delivery.attempts + 1
    delay = None
    if result.ok:
        status, next_attempt_at, delivered_at = DeliveryStatus.DELIVERED, None, now
    else:
        delay = retry_delay(number)
        next_attempt_at, delivered_at = now + timedelta(seconds=delay), None
        status = DeliveryStatus.PENDING if next_attempt_at <= delivery.give_up_at else DeliveryStatus.FAILED
        if status == DeliveryStatus.FAILED:
            next_attempt_at = None
    last_error = f"{result.error_code}: {result.error}" if result.error_code else ""
    with transaction.atomic():
        updated = WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status,
            attempts=F("attempts") + 1,
            next_attempt_at=next_attempt_at,
            locked_until=None,
            last_status_code=result.status_code,
            last_error=last_error[:500],
            last_response_ms=result.response_ms,
            delivered_at=delivered_at,
            updated_at=now,
        )
        if not updated:
            return "gone"  # the endpoint was deleted meanwhile
        WebhookAttempt.objects.create(
            delivery_id=delivery.pk,
            number=number,
            url=result.url[:2000],
            ip_address=result.ip,
            status_code=result.status_code,
            error_code=result.error_code,
            error=result.error[:500],
            response_ms=result.response_ms,
            response_body=result.response_body[:RESPONSE_BODY_PREFIX],
        )
        if status == DeliveryStatus.PENDING:
            transaction.on_commit(lambda: webhook_delivery_enqueue(delivery_id=delivery.pk, countdown=delay))
    log = logger.info if result.ok else logger.warning
    log(
        "webhook %s %s to %s: attempt %d %s (%s)",
        delivery.event_type,
        delivery.event_id,
        delivery.endpoint_id,
        number,
        status,
        result.status_code or result.error_code,
    )
    return status


# ---------------------------------------------------------------------------------------------------------------
# Sweeping
# ---------------------------------------------------------------------------------------------------------------
def webhook_deliveries_sweep(*, grace_seconds: float = 30) -> dict[str, int]:
    """Re-enqueue pending deliveries overdue by `grace_seconds` with no attempt in flight (a lost task message, a
    worker that died), and fail those whose attempts never finish (killed each time) an hour past their window."""
    now = timezone.now()
    free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    pending = WebhookDelivery.objects.filter(free, status=DeliveryStatus.PENDING)
    abandoned = pending.filter(give_up_at__lt=now - timedelta(hours=1)).update(
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        locked_until=None,
        last_error="gave_up: no attempt could finish within the retry window",
        updated_at=now,
    )
    due = list(
        pending.filter(next_attempt_at__lt=now - timedelta(seconds=grace_seconds))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:500]
    )
    resent = sum(webhook_delivery_enqueue(delivery_id=delivery_id) for delivery_id in due)
    return {"resent": resent, "failed": abandoned}
