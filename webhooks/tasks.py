"""Celery tasks for webhooks (queue `default`). Thin: they take ids and call a service. Sent by name."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from .services import ATTEMPT_LEASE_SECONDS, webhook_deliveries_sweep, webhook_delivery_attempt


@shared_task(
    name="webhooks.deliver",
    acks_late=True,
    # The retry schedule lives on the row (the service sends the next task itself); these retries only cover the
    # database being briefly away. A task killed at the time limit leaves its lease to expire: the sweeper resends.
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=5,
    soft_time_limit=ATTEMPT_LEASE_SECONDS - 10,
    time_limit=ATTEMPT_LEASE_SECONDS - 5,
)
def webhook_delivery_attempt_task(delivery_id: str) -> str:
    return webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.sweep_deliveries", acks_late=True)
def webhook_deliveries_sweep_task() -> dict[str, int]:
    return webhook_deliveries_sweep()
