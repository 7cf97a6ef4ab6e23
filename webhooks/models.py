"""Webhook endpoints an account registers, and the deliveries of events to them with every attempt logged.

The delivery row is the outbox: it is written in the transaction of the change it announces, a task POSTs it after
the commit, and a sweeper finds the ones whose task was lost. `locked_until` is a short lease held while one
attempt is in flight (the HTTP call happens outside any transaction), so a duplicate task does nothing.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.encryption import EncryptedTextField
from core.models import TimestampedModel


class EventType(models.TextChoices):
    JOB_SUCCEEDED = "job.succeeded", "A job succeeded"
    JOB_FAILED = "job.failed", "A job failed"
    VOICE_VERIFIED = "voice.verified", "A cloned voice was verified (active)"
    VOICE_REJECTED = "voice.rejected", "A cloned voice was rejected"


# Sent only by the "send test event" action, whatever the endpoint subscribes to.
TEST_EVENT = "webhook.test"


class WebhookEndpoint(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types this endpoint receives.")
    # Signing needs the secret itself, not a hash: stored encrypted (FIELD_ENCRYPTION_KEYS), read back in the clear.
    # Shown to the customer once.
    secret = EncryptedTextField()
    # The secret before the last rotation; deliveries are signed with it too until it expires.
    previous_secret = EncryptedTextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="webhook_user_created")]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, help_text="The same for every endpoint the event goes to.")
    event_type = models.CharField(max_length=32)
    payload = models.JSONField(help_text="The body POSTed: {id, type, created, data}.")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField(help_text="No automatic retry after this; then the delivery is failed.")
    locked_until = models.DateTimeField(null=True, blank=True, help_text="Lease of the attempt in flight.")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_created"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_next"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="delivery_once_per_endpoint_event"),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False), name="delivery_delivered_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False), name="delivery_pending_has_next"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST (or one refusal to POST) of a delivery, with what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    url = models.CharField(max_length=2000)
    ip_address = models.GenericIPAddressField(null=True, blank=True, help_text="The checked address connected to.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.CharField(max_length=512, blank=True, help_text="The first bytes of the response only.")

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_once")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
