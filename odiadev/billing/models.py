"""Plans and which plan each account is on. (Subscriptions, the usage ledger and Stripe come with billing.)"""

from django.conf import settings
from django.db import models

from odiadev.core.models import TimestampedModel


class Plan(TimestampedModel):
    slug = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    monthly_characters = models.PositiveIntegerField()
    cloned_voice_slots = models.PositiveIntegerField(default=0)
    concurrent_jobs = models.PositiveIntegerField(default=1)
    requests_per_minute = models.PositiveIntegerField(default=10)
    max_text_chars = models.PositiveIntegerField(default=1000)
    allowed_formats = models.JSONField(default=list)
    allows_cloning = models.BooleanField(default=False)
    watermarked = models.BooleanField(default=True)
    price_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, default="usd")
    stripe_price_id = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "price_cents"]

    def __str__(self) -> str:
        return self.name


class BillingAccount(TimestampedModel):
    """The account's current plan; assigned by an operator in local mode (no Stripe keys)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_account")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.user} on {self.plan}"
