"""Plans, billing accounts and the usage ledger. (Stripe subscriptions come with the Stripe work.)"""

from django.conf import settings
from django.db import models
from django.db.models import Q

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

    @property
    def price_display(self) -> str:
        return "Free" if not self.price_cents else f"${self.price_cents / 100:.2f} / month"


class BillingAccount(TimestampedModel):
    """The account's plan and character balance. The balance mirrors the sum of the account's ledger entries
    (kept in the same transaction as each entry) so that a reservation is one locked row, never a race."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_account")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    balance = models.BigIntegerField(default=0, help_text="Characters left; equals the sum of the ledger.")
    period = models.CharField(max_length=7, blank=True, help_text="The month (YYYY-MM) the balance belongs to.")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="account_balance_not_negative")]

    def __str__(self) -> str:
        return f"{self.user} on {self.plan}"


class EntryKind(models.TextChoices):
    GRANT = "grant", "Monthly grant"
    EXPIRE = "expire", "Unused balance expired"
    RESERVE = "reserve", "Reserved at submit"
    CAPTURE = "capture", "Captured (job succeeded)"
    RELEASE = "release", "Released (job failed or cancelled)"
    ADJUST = "adjust", "Operator adjustment"


class LedgerEntry(models.Model):
    """Append-only. `amount` is signed characters: grants and releases add, reservations subtract; a capture
    adds nothing (it makes a reservation final). One entry of each job kind per job, one grant per period."""

    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = models.BigIntegerField()
    job = models.ForeignKey(
        "synthesis.SynthesisJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="ledger_entries"
    )
    period = models.CharField(max_length=7)
    cached = models.BooleanField(default=False, help_text="A cache hit: billed as the settings say, no engine time.")
    reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "period", "kind"], name="ledger_account_period_kind")]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "kind"], condition=Q(job__isnull=False), name="ledger_one_entry_per_job_and_kind"
            ),
            models.UniqueConstraint(
                fields=["account", "period", "kind"],
                condition=Q(kind__in=["grant", "expire"]),
                name="ledger_one_grant_per_period",
            ),
            models.CheckConstraint(condition=~Q(kind="adjust") | ~Q(reason=""), name="ledger_adjustment_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} ({self.period})"
