from django import forms
from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from .models import LifecycleReport, Switch, SwitchChange
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

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
