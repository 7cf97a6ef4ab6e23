"""The operators' admin: lifecycle reports, abuse flags with the actions they lead to (block the address or the
account), and the order of the admin index (ours first, dj-stripe's mirror of Stripe last)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from accounts.blocking import user_block
from accounts.models import ApiKey, User
from controls.abuse import abuse_flag_review
from controls.blocklist import ip_block_create
from controls.models import AbuseFlag, AbuseFlagStatus, AbuseSubject

from .models import LifecycleReport

# The admin index and sidebar: our apps in the order an operator works through them, then Django's and the
# second factor's, then dj-stripe's ~40 models (a read-mostly mirror of Stripe) last, so they never sit between
# Billing and Operations. Apps not named here come before dj-stripe, alphabetically.
ADMIN_APP_ORDER = (
    "accounts",
    "voices",
    "synthesis",
    "billing",
    "webhooks",
    "provenance",
    "controls",
    "ops",
    "auth",
    "otp_totp",
)
ADMIN_APP_LAST = "djstripe"
ADMIN_APP_NAMES = {"otp_totp": "Two-factor devices", "djstripe": "Stripe mirror (dj-stripe)"}

_default_app_list = admin.site.get_app_list


def admin_app_list(request, app_label=None) -> list[dict]:
    """`AdminSite.get_app_list` in ADMIN_APP_ORDER, dj-stripe last, with readable names for third-party apps."""
    apps = _default_app_list(request, app_label)
    rank = {label: index for index, label in enumerate(ADMIN_APP_ORDER)}
    apps.sort(key=lambda app: (app["app_label"] == ADMIN_APP_LAST, rank.get(app["app_label"], len(rank)), app["name"]))
    for app in apps:
        app["name"] = ADMIN_APP_NAMES.get(app["app_label"], app["name"])
    return apps


admin.site.get_app_list = admin_app_list  # the default site is an instance; accounts/admin.py sets its login too


@admin.register(LifecycleReport)
class LifecycleReportAdmin(admin.ModelAdmin):
    """Read-only: reports are written by the lifecycle policy (`manage.py lifecycle_policy`, weekly beat task)."""

    list_display = ["started_at", "dry_run", "trigger", "items_total", "bytes_freed", "finished_at", "error"]
    list_filter = ["dry_run", "trigger"]
    date_hierarchy = "started_at"

    @admin.display(description="bytes freed", ordering="bytes_total")
    def bytes_freed(self, obj):
        return filesizeformat(obj.bytes_total)

    def has_add_permission(self, request):
        return False


def _flag_user(flag: AbuseFlag):
    if flag.subject_type == AbuseSubject.USER:
        return User.objects.filter(public_id=flag.subject_id).first()
    if flag.subject_type == AbuseSubject.API_KEY:
        key = ApiKey.objects.select_related("user").filter(prefix=flag.subject_id).first()
        return key.user if key else None
    return None


@admin.register(AbuseFlag)
class AbuseFlagAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "subject_type", "subject_id", "summary", "status", "reviewed_by"]
    list_filter = ["status", "kind", "subject_type"]
    search_fields = ["subject_id"]
    readonly_fields = [
        "kind",
        "subject_type",
        "subject_id",
        "evidence",
        "created_at",
        "status",
        "reviewed_by",
        "reviewed_at",
    ]
    fields = [*readonly_fields, "review_note"]
    actions = ["dismiss", "block_ip", "block_user"]

    def has_add_permission(self, request):
        return False  # raised by detection only

    @admin.display(description="evidence")
    def summary(self, obj):
        return ", ".join(f"{key}={value}" for key, value in list(obj.evidence.items())[:4])

    @admin.action(description="Dismiss (not abuse)")
    def dismiss(self, request, queryset):
        for flag in queryset:
            abuse_flag_review(flag=flag, status=AbuseFlagStatus.DISMISSED, by=request.user)
        self.message_user(request, f"Dismissed {queryset.count()} flag(s).", messages.SUCCESS)

    @admin.action(description="Block the IP address (flags on addresses)")
    def block_ip(self, request, queryset):
        blocked = 0
        for flag in queryset:
            if flag.subject_type != AbuseSubject.IP:
                self.message_user(request, f"{flag}: not an address; skipped.", messages.WARNING)
                continue
            ip_block_create(
                network=flag.subject_id, reason=f"Abuse flag {flag.pk}: {flag.get_kind_display()}", by=request.user
            )
            abuse_flag_review(flag=flag, status=AbuseFlagStatus.ACTIONED, by=request.user, note="IP blocked")
            blocked += 1
        self.message_user(request, f"Blocked {blocked} address(es).", messages.SUCCESS)

    @admin.action(description="Block the account (flags on users and API keys)")
    def block_user(self, request, queryset):
        blocked = 0
        for flag in queryset:
            user = _flag_user(flag)
            if user is None:
                self.message_user(request, f"{flag}: no account behind it; skipped.", messages.WARNING)
                continue
            try:
                user_block(user=user, reason=f"Abuse flag {flag.pk}: {flag.get_kind_display()}", by=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{flag}: {' '.join(exc.messages)}", messages.ERROR)
                continue
            abuse_flag_review(flag=flag, status=AbuseFlagStatus.ACTIONED, by=request.user, note="account blocked")
            blocked += 1
        self.message_user(request, f"Blocked {blocked} account(s).", messages.SUCCESS)
