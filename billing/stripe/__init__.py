"""Stripe through dj-stripe: Checkout and the Customer Portal (`checkout`), webhook intake and processing
(`webhooks`), the effect of each event (`handlers`), and operator review: incidents and the nightly reconciliation
(`reconcile`).

Webhooks: `webhook_receive` verifies the signature with dj-stripe's `WebhookEventTrigger` (the configured secret,
`STRIPE_WEBHOOK_TOLERANCE` seconds against replays) and stores the trigger; the endpoint answers at once and a
Celery task runs `stripe_event_process`. That has dj-stripe process the event, which *re-reads the object from
Stripe* rather than trusting the event's snapshot, so an event that arrives late or out of order can never roll
state back; then `stripe_event_apply` applies the product's effect (plan, revenue, refund, dispute) once per event
id: the `StripeEventEffect` row is written in the same transaction as the effect, and a duplicate finds it.
"""
