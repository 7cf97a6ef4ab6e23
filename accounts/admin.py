from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse

from core.admin_actions import reason_or_form

from .blocking import user_block, user_unblock
from .models import ApiKey, User, UserBlock
from .services import user_email_verified_mark


def _admin_login(request, extra_context=None):
    """The admin logs in through our log-in page, where the throttle and the second factor are."""
    if request.user.is_authenticated:  # signed in, but not staff: the admin is not for this account
        messages.error(request, "The admin is for staff accounts.")
        return redirect("dashboard")
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"), login_url=reverse("login"))


admin.site.login = _admin_login


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["-date_joined"]
    list_display = ["email", "is_active", "is_staff", "email_verified_at", "date_joined", "last_login"]
    list_filter = ["is_staff", "is_active", ("email_verified_at", admin.EmptyFieldListFilter)]
    search_fields = ["email"]
    readonly_fields = ["public_id", "date_joined", "last_login", "email_verified_at"]
    fieldsets = [
        (None, {"fields": ["email", "password", "public_id", "email_verified_at"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    actions = ["block", "unblock", "mark_email_verified"]

    @admin.action(description="Block: deactivate, revoke API keys, end sessions and sockets")
    def block(self, request, queryset):
        reason = reason_or_form(
            self, request, queryset, action="block", question="Block these accounts?", submit_label="Block"
        )
        if not isinstance(reason, str):
            return reason  # the page asking for a reason
        for user in queryset:
            try:
                block = user_block(user=user, reason=reason, by=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{user}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Blocked {user}: {block.keys_revoked} key(s) revoked, {block.sessions_deleted} session(s) ended.",
                    messages.SUCCESS,
                )
        return None

    @admin.action(description="Unblock: reactivate (revoked keys stay revoked)")
    def unblock(self, request, queryset):
        reason = reason_or_form(
            self, request, queryset, action="unblock", question="Unblock these accounts?", submit_label="Unblock"
        )
        if not isinstance(reason, str):
            return reason
        for user in queryset:
            user_unblock(user=user, reason=reason, by=request.user)
        self.message_user(request, f"Unblocked {queryset.count()} account(s).", messages.SUCCESS)
        return None

    @admin.action(description="Mark email verified (keys work, this month's free characters granted)")
    def mark_email_verified(self, request, queryset):
        newly = sum(user_email_verified_mark(user=user) for user in queryset)
        self.message_user(request, f"Marked {newly} account(s) verified.", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "user__email"]
    readonly_fields = ["id", "user", "prefix", "secret_hash", "created_at", "last_used_at"]
    exclude: list[str] = []

    def has_add_permission(self, request):
        # Keys are issued by the customer (dashboard) or `manage.py create_api_key`, which show the secret once.
        return False


@admin.register(UserBlock)
class UserBlockAdmin(admin.ModelAdmin):
    list_display = ["user", "blocked_at", "blocked_by", "reason", "keys_revoked", "lifted_at", "lifted_by"]
    search_fields = ["user__email", "reason"]
    list_select_related = ["user", "blocked_by", "lifted_by"]

    def has_add_permission(self, request):
        return False  # block from the user list (action "Block"), so keys, sessions and sockets go too

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # audit
