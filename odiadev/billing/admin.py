from django import forms
from django.contrib import admin

from .models import BillingAccount, LedgerEntry, Plan
from .services import plan_assign, usage_adjust


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
    list_display = ["user", "plan", "balance", "period", "assigned_by", "updated_at"]
    list_filter = ["plan"]
    search_fields = ["user__email"]
    raw_id_fields = ["user", "assigned_by"]
    readonly_fields = ["balance", "period", "assigned_by"]
    fields = ["user", "plan", "balance", "period", "assigned_by"]

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

    def has_change_permission(self, request, obj=None):
        return obj is None

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        entry = usage_adjust(user=data["account"].user, amount=data["amount"], reason=data["reason"], by=request.user)
        obj.pk = entry.pk
