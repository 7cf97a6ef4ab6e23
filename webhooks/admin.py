from django.contrib import admin

from billing.admin_revision import AccountRevisionAdminMixin

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AccountRevisionAdminMixin, admin.ModelAdmin):
    list_display = ["url", "user", "created_at", "secret_rotated_at"]
    search_fields = ["url", "user__email"]
    readonly_fields = ["id", "user", "created_at", "updated_at", "secret_rotated_at"]
    # Secrets never show in the admin: a customer rotates theirs from the dashboard.
    exclude = ["secret", "previous_secret", "previous_secret_expires_at"]

    def has_add_permission(self, request):
        return False


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in WebhookAttempt._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event_type", "event_id", "endpoint", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["event_id", "endpoint__url", "endpoint__user__email"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [WebhookAttemptInline]

    def has_add_permission(self, request):
        return False
