"""Plans, billing accounts, the usage ledger, and what Stripe's events leave behind: revenue, refunds, disputes.

dj-stripe keeps the Stripe objects themselves (customers, subscriptions, invoices, charges...); the models here hold
what the product decides from them, each row written once per Stripe event or object.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import TimestampedModel


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
    audio_retention_days = models.PositiveIntegerField(
        default=30, help_text="Days synthesized audio is kept; the lifecycle policy deletes older audio."
    )
    storage_quota_mb = models.PositiveIntegerField(
        default=1000, help_text="Stored audio and voice samples (MB) beyond which new work is refused."
    )
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

    @property
    def storage_quota_bytes(self) -> int:
        return self.storage_quota_mb * 1024 * 1024


def revision_new() -> int:
    return secrets.randbits(62)


class BillingAccount(TimestampedModel):
    """The account's plan and character balance. The balance mirrors the sum of the account's ledger entries
    (kept in the same transaction as each entry) so that a reservation is one locked row, never a race."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_account")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    balance = models.BigIntegerField(default=0, help_text="Characters left; equals the sum of the ledger.")
    # Null until first needed (accounts from before the storage ledger): then opened from what the apps store, and
    # from there moved only by storage entries (see billing/storage.py).
    storage_bytes = models.BigIntegerField(
        null=True, blank=True, help_text="Bytes stored; equals the sum of the storage entries. Empty: not opened yet."
    )
    period = models.CharField(max_length=7, blank=True, help_text="The month (YYYY-MM) the balance belongs to.")
    # Stripe mode: the customer and the subscription that decides the plan (empty in local mode).
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    subscription_status = models.CharField(max_length=32, blank=True)
    payment_failed_at = models.DateTimeField(
        null=True, blank=True, help_text="The latest failed invoice payment, until an invoice is paid."
    )
    watermark_opt_in = models.BooleanField(
        default=False,
        help_text="Mark this account's audio with the provenance watermark even where the plan does not.",
    )
    # A new value (in the same transaction) with every change to what a submit reads of the account besides this
    # row: its pronunciations and webhook endpoints. Processes keep copies of those under the revision they were read
    # for, and a submit's locked read of this row confirms its copy (billing/terms.py). Random rather than counted,
    # so that a row made again (or a test database rolled back) never meets a copy kept for an older row.
    revision = models.PositiveBigIntegerField(
        default=revision_new,
        db_default=0,
        help_text="Changes with each change of the account's pronunciations and webhook endpoints.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="account_balance_not_negative"),
            models.UniqueConstraint(
                fields=["stripe_customer_id"], condition=~Q(stripe_customer_id=""), name="account_one_stripe_customer"
            ),
        ]

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
        verbose_name_plural = "ledger entries"
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


class StorageKind(models.TextChoices):
    OPEN = "open", "Opened from the files already stored"
    STORE = "store", "File stored"
    DELETE = "delete", "File deleted"


class StorageEntry(models.Model):
    """Append-only. `delta` is signed bytes: a stored file adds its size, a deleted one takes it away; the one
    `open` entry holds what the account already kept when its balance was first needed. `ref` names the object
    whose file it is (`synthesis.job:<uuid>`); one entry per account, kind and object, so a retried store or
    delete records once."""

    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="storage_entries")
    kind = models.CharField(max_length=16, choices=StorageKind.choices)
    delta = models.BigIntegerField()
    ref = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "storage entries"
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "ref"], name="storage_one_entry_per_object_and_kind"),
            models.CheckConstraint(
                condition=Q(kind="open", ref="", delta__gte=0)
                | (Q(kind="store", delta__gte=0) & ~Q(ref=""))
                | (Q(kind="delete", delta__lte=0) & ~Q(ref="")),
                name="storage_entry_sign_and_ref_match_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.delta:+d} bytes {self.ref}".rstrip()


# -------------------------------------------------------------------------------------------------------------------
# Stripe's events, as the product records them
# -------------------------------------------------------------------------------------------------------------------
class StripeEventEffect(models.Model):
    """One row per Stripe event id whose effect has been applied: written in the transaction of the effect, so
    a redelivered, retried or concurrently delivered event finds it and does nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=128)
    account = models.ForeignKey(BillingAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=255, blank=True)
    stripe_created = models.DateTimeField(help_text="When Stripe created the event.")
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-applied_at"]
        verbose_name = "Stripe event effect"
        verbose_name_plural = "Stripe event effects"

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class RevenueKind(models.TextChoices):
    INVOICE_PAID = "invoice_paid", "Invoice paid"
    REFUND = "refund", "Refund"
    DISPUTE_LOST = "dispute_lost", "Dispute lost"


class RevenueEntry(models.Model):
    """Money in (paid invoices) and out (refunds, lost disputes), in the currency's smallest unit, signed.
    One entry per Stripe object and kind."""

    account = models.ForeignKey(BillingAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16, choices=RevenueKind.choices)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    stripe_object_id = models.CharField(max_length=255)
    occurred_at = models.DateTimeField(db_index=True, help_text="When it happened at Stripe.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name_plural = "revenue entries"
        constraints = [
            models.UniqueConstraint(fields=["kind", "stripe_object_id"], name="revenue_one_entry_per_object"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_cents / 100:+.2f} {self.currency.upper()}"


class IncidentKind(models.TextChoices):
    REFUND = "refund", "Refund"
    DISPUTE = "dispute", "Dispute (chargeback)"


class PaymentIncident(models.Model):
    """A refund or a dispute: amount, reason, date and status, flagged for the ops panel until an operator
    acknowledges it."""

    account = models.ForeignKey(BillingAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16, choices=IncidentKind.choices)
    stripe_id = models.CharField(max_length=255)
    charge_id = models.CharField(max_length=255, blank=True)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)
    occurred_at = models.DateTimeField(db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    flagged = models.BooleanField(default=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "stripe_id"], name="incident_one_per_stripe_object")]

    def __str__(self) -> str:
        return f"{self.kind} {self.stripe_id} {self.amount_display} ({self.status})"

    @property
    def amount_display(self) -> str:
        return f"{self.amount_cents / 100:.2f} {self.currency.upper()}"


class ReconciliationRun(models.Model):
    """One pass of the nightly comparison of local subscription state with Stripe's."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    accounts_checked = models.PositiveIntegerField(default=0)
    mismatch_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"reconciliation {self.started_at:%Y-%m-%d %H:%M} ({self.mismatch_count} mismatches)"


class ReconciliationMismatch(models.Model):
    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="mismatches")
    account = models.ForeignKey(BillingAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    field = models.CharField(max_length=32)
    local_value = models.CharField(max_length=255, blank=True)
    stripe_value = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["run", "id"]
        verbose_name_plural = "reconciliation mismatches"

    def __str__(self) -> str:
        return f"{self.field}: local {self.local_value!r} vs Stripe {self.stripe_value!r}"
