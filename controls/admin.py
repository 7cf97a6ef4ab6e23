"""Admin for the controls: kill switches (flipped through the service, so every flip is audited) and the IP
blocklist. Abuse flags are reviewed from the operators' admin in `ops`."""

from django import forms
from django.contrib import admin
from django.utils import timezone

from .blocklist import ip_block_create, ip_block_remove, ip_block_update
from .limits import LIMITS, limit_set, limit_state, limits_cache_clear
from .models import IpBlock, Limit, Switch, SwitchChange, ip_network_normalize
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


class LimitForm(forms.ModelForm):
    name = forms.ChoiceField(choices=[(name, f"{name}: {spec.description}") for name, spec in LIMITS.items()])

    class Meta:
        model = Limit
        fields = ["name", "value", "reason"]


@admin.register(Limit)
class LimitAdmin(admin.ModelAdmin):
    """Operators' values for the runtime limits (controls.limits): set one to override the deployment's default;
    delete it to go back to the default. A LIMIT_<NAME> environment variable wins over both."""

    form = LimitForm
    list_display = ["name", "value", "in_force", "reason", "changed_by", "updated_at"]
    readonly_fields = ["changed_by", "updated_at"]

    @admin.display(description="in force")
    def in_force(self, obj):
        state = limit_state(obj.name) if obj.name in LIMITS else None
        return f"{state['value']} ({state['source']})" if state else "unknown limit"

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "name"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        saved = limit_set(name=obj.name, value=obj.value, reason=obj.reason, user=request.user)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        limits_cache_clear()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        limits_cache_clear()
