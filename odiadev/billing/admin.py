from django.contrib import admin

from .models import BillingAccount, Plan


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "price_cents",
        "monthly_characters",
        "cloned_voice_slots",
        "allows_cloning",
        "watermarked",
        "is_active",
    ]
    list_editable = ["is_active"]


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    list_display = ["user", "plan", "assigned_by", "updated_at"]
    list_filter = ["plan"]
    search_fields = ["user__email"]
    raw_id_fields = ["user", "assigned_by"]

    def save_model(self, request, obj, form, change):
        obj.assigned_by = request.user
        super().save_model(request, obj, form, change)
