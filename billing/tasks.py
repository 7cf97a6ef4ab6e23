"""Celery tasks for billing. Thin: they take ids and call a service. Sent by name from the web tier."""

from __future__ import annotations

import logging

from celery import shared_task

from .stripe.common import payments_configured
from .stripe.reconcile import subscriptions_reconcile
from .stripe.webhooks import stripe_event_process, stripe_triggers_sweep

logger = logging.getLogger(__name__)


@shared_task(
    name="billing.process_stripe_event",
    bind=True,
    acks_late=True,
    max_retries=10,
    # Stripe or the database may be briefly away; the delivery is stored, so retrying later loses nothing.
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
)
def stripe_event_process_task(self, trigger_id: int) -> str:
    return stripe_event_process(trigger_id=trigger_id)


@shared_task(name="billing.sweep_stripe_webhooks", acks_late=True)
def stripe_triggers_sweep_task() -> int:
    return stripe_triggers_sweep()


@shared_task(name="billing.reconcile_subscriptions", acks_late=True)
def subscriptions_reconcile_task() -> dict:
    if not payments_configured():
        return {"skipped": "local mode"}
    run = subscriptions_reconcile()
    return {"run": run.pk, "checked": run.accounts_checked, "mismatches": run.mismatch_count, "error": run.error}
