from django.conf import settings
from django.contrib import admin

from billing.admin_revision import AccountRevisionAdminMixin

from .formats import OUTPUT_FORMATS
from .models import Pronunciation, SynthesisJob


class _KnownValuesFilter(admin.SimpleListFilter):
    """A filter offering the values the deployment knows (not the distinct values of every job, read each time)."""

    def values(self) -> list[str]:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return [(value, value) for value in self.values()]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.parameter_name: self.value()}) if self.value() else queryset


class EngineFilter(_KnownValuesFilter):
    title, parameter_name = "engine", "engine"

    def values(self) -> list[str]:
        return sorted(settings.SPEECH_ENGINES)


class OutputFormatFilter(_KnownValuesFilter):
    title, parameter_name = "output format", "output_format"

    def values(self) -> list[str]:
        return sorted(OUTPUT_FORMATS)


@admin.register(SynthesisJob)
class SynthesisJobAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "voice_id", "output_format", "characters", "cached", "created_at"]
    # The jobs table is the largest: no filter reads it whole to offer its choices (a date hierarchy reads the
    # distinct dates of every job, a plain field filter its distinct values), creation dates are ranges on the
    # index, and the page counts the filtered jobs only, not the whole table as well.
    list_filter = [("created_at", admin.DateFieldListFilter), "status", "cached", EngineFilter, OutputFormatFilter]
    search_fields = ["id", "user__email", "text", "cache_key"]
    raw_id_fields = ["user", "api_key", "source_job"]
    show_full_result_count = False
    list_select_related = ["user"]

    def get_readonly_fields(self, request, obj=None):
        # Jobs change state only through the services; the admin shows them.
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Pronunciation)
class PronunciationAdmin(AccountRevisionAdminMixin, admin.ModelAdmin):
    list_display = ["word", "replacement", "user", "case_sensitive", "whole_word", "updated_at"]
    list_filter = ["case_sensitive", "whole_word"]
    search_fields = ["word", "replacement", "user__email"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]
