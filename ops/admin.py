from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from .abuse import abuse_flag_review
from .blocking import ip_block_create, ip_block_remove, ip_block_update, user_block
from .models import (
    AbuseFlag,
    AbuseFlagStatus,
    AbuseSubject,
    IpBlock,
    LifecycleReport,
    Switch,
    SwitchChange,
    UserBlock,
    ip_network_normalize,
)
from .switches import SWITCHES, switch_set, switch_state


class SwitchForm(forms.ModelForm):
    change_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Required: why you are flipping it (audited)."
    )

    class Meta:
        model = Switch
        fields = ["enabled"]


class SwitchChangeInline(admin.TabularInline):
    model = SwitchChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "actor", "enabled", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Switch)
class SwitchAdmin(admin.ModelAdmin):
    form = SwitchForm
    list_display = ["name", "enabled", "effective", "reason", "changed_by", "updated_at"]
    readonly_fields = ["name", "description", "effective", "reason", "changed_by", "updated_at"]
    inlines = [SwitchChangeInline]

    @admin.display(description="effective state")
    def effective(self, obj):
        state = switch_state(obj.name)
        if state["forced_off_by_env"]:
            return f"off (forced by {SWITCHES[obj.name].env_off})"
        return "on" if state["enabled"] else "off"

    @admin.display(description="what it controls")
    def description(self, obj):
        return SWITCHES[obj.name].description if obj.name in SWITCHES else ""

    def has_add_permission(self, request):
        return False  # the switches are defined in code (SWITCHES); rows appear on first flip or migration

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, so the change is audited and every process sees it at once.
        switch_set(
            name=obj.name,
            enabled=form.cleaned_data["enabled"],
            reason=form.cleaned_data["change_reason"],
            user=request.user,
        )

    def save_related(self, request, form, formsets, change):
        pass  # the inline is read-only history


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


# ------------------------------------------------------------------------------------------------------------
# Abuse: IP blocklist, account blocks, abuse flags
# ------------------------------------------------------------------------------------------------------------
class IpBlockForm(forms.ModelForm):
    class Meta:
        model = IpBlock
        fields = ["network", "reason", "expires_at"]

    def clean_network(self):
        return ip_network_normalize(self.cleaned_data["network"])


@admin.register(IpBlock)
class IpBlockAdmin(admin.ModelAdmin):
    form = IpBlockForm
    list_display = ["network", "in_force", "reason", "created_by", "created_at", "expires_at"]
    search_fields = ["network", "reason"]
    readonly_fields = ["created_by", "created_at"]

    @admin.display(boolean=True, description="in force")
    def in_force(self, obj):
        return obj.expires_at is None or obj.expires_at > timezone.now()

    def get_readonly_fields(self, request, obj=None):
        # Another range is another block: change the reason or expiry here, or delete and add.
        return [*self.readonly_fields, "network"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            ip_block_update(block=obj, reason=data["reason"], expires_at=data["expires_at"])
        else:
            saved = ip_block_create(
                network=data["network"], reason=data["reason"], by=request.user, expires_at=data["expires_at"]
            )
            obj.pk = saved.pk

    def delete_model(self, request, obj):
        ip_block_remove(block=obj)

    def delete_queryset(self, request, queryset):
        for block in queryset:
            ip_block_remove(block=block)


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
        return False

        return False  # audit


def _flag_user(flag: AbuseFlag):
    from accounts.models import ApiKey, User

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
