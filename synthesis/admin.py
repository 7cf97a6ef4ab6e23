from django.contrib import admin

from .models import Pronunciation, SynthesisJob


@admin.register(SynthesisJob)
class SynthesisJobAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "voice_id", "output_format", "characters", "cached", "created_at"]
    list_filter = ["status", "cached", "engine", "output_format"]
    search_fields = ["id", "user__email", "text", "cache_key"]
    raw_id_fields = ["user", "api_key", "source_job"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]

    def get_readonly_fields(self, request, obj=None):
        # Jobs change state only through the services; the admin shows them.
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Pronunciation)
class PronunciationAdmin(admin.ModelAdmin):
    list_display = ["word", "replacement", "user", "case_sensitive", "whole_word", "updated_at"]
    list_filter = ["case_sensitive", "whole_word"]
    search_fields = ["word", "replacement", "user__email"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]
