from django import forms
from django.contrib import admin

from .models import (
    BillingAccount,
    LedgerEntry,
    PaymentIncident,
    Plan,
    ReconciliationMismatch,
    ReconciliationRun,
    RevenueEntry,
    StorageEntry,
    StripeEventEffect,
)
from .services import plan_assign, usage_adjust
from .stripe.reconcile import incident_acknowledge


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "price_cents",
        "monthly_characters",
        "cloned_voice_slots",
        "concurrent_jobs",
        "allows_cloning",
        "watermarked",
        "is_active",
    ]
    list_editable = ["is_active"]


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    list_display = ["user", "plan", "balance", "period", "subscription_status", "assigned_by", "updated_at"]
    list_filter = ["plan", "subscription_status"]
    search_fields = ["user__email", "stripe_customer_id", "stripe_subscription_id"]
    raw_id_fields = ["user", "assigned_by"]
    stripe_fields = ["stripe_customer_id", "stripe_subscription_id", "subscription_status", "payment_failed_at"]
    readonly_fields = ["balance", "period", "storage_bytes", "assigned_by", *stripe_fields]
    fields = ["user", "plan", "balance", "period", "storage_bytes", "assigned_by", *stripe_fields]

    def save_model(self, request, obj, form, change):
        # Through the service: an upgrade grants the difference at once, and the change is recorded.
        plan_assign(user=obj.user, slug=obj.plan.slug, assigned_by=request.user)


class AdjustmentForm(forms.ModelForm):
    class Meta:
        model = LedgerEntry
        fields = ["account", "amount", "reason"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """The ledger is append-only: operators add adjustments (with a reason) and read everything else."""

    form = AdjustmentForm
    list_display = ["created_at", "account", "kind", "amount", "period", "job", "cached", "reason", "created_by"]
    list_filter = ["kind", "cached", "period"]
    search_fields = ["account__user__email", "job__id", "reason"]
    raw_id_fields = ["account"]
    show_full_result_count = False  # (two entries per job: the page counts the filtered entries only)

    def has_change_permission(self, request, obj=None):
        return obj is None

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        entry = usage_adjust(user=data["account"].user, amount=data["amount"], reason=data["reason"], by=request.user)
        obj.pk = entry.pk


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by Stripe's events only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RevenueEntry)
class RevenueEntryAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "kind", "amount_cents", "currency", "account", "stripe_object_id"]
    list_filter = ["kind", "currency"]
    search_fields = ["stripe_object_id", "account__user__email"]
    date_hierarchy = "occurred_at"


@admin.register(PaymentIncident)
class PaymentIncidentAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "kind", "amount_cents", "currency", "reason", "status", "account", "flagged"]
    list_filter = ["kind", "flagged", "status"]
    search_fields = ["stripe_id", "charge_id", "account__user__email"]
    actions = ["acknowledge"]

    def has_change_permission(self, request, obj=None):  # for the action; the form stays read-only
        return obj is None and request.user.has_perm("billing.change_paymentincident")

    @admin.action(description="Acknowledge (clears the ops panel flag)", permissions=["change"])
    def acknowledge(self, request, queryset):
        for incident in queryset.filter(flagged=True):
            incident_acknowledge(incident=incident, by=request.user)


@admin.register(StorageEntry)
class StorageEntryAdmin(ReadOnlyAdmin):
    """Written by the services that store and delete files (billing/storage.py)."""

    list_display = ["created_at", "account", "kind", "delta", "ref"]
    list_filter = ["kind"]
    search_fields = ["account__user__email", "ref"]


@admin.register(StripeEventEffect)
class StripeEventEffectAdmin(ReadOnlyAdmin):
    list_display = ["applied_at", "type", "event_id", "account", "outcome"]
    list_filter = ["type"]
    search_fields = ["event_id", "account__user__email", "outcome"]


class ReconciliationMismatchInline(admin.TabularInline):
    model = ReconciliationMismatch
    extra = 0
    can_delete = False
    fields = ["account", "stripe_subscription_id", "field", "local_value", "stripe_value"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "finished_at", "accounts_checked", "mismatch_count", "error"]
    inlines = [ReconciliationMismatchInline]
