from django.contrib import admin

from .models import ConsentChallenge, ConsentRecord, VoiceProfile


@admin.register(VoiceProfile)
class VoiceProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "status", "rejection_code", "encoder", "created_at", "verified_at"]
    list_filter = ["status", "encoder"]
    search_fields = ["id", "name", "user__email"]
    raw_id_fields = ["user", "consent"]
    readonly_fields = ["id", "embedding", "sample_sha256", "created_at", "updated_at"]
    list_select_related = ["user"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    list_display = ["id", "user_email", "decision", "speaker_score", "threshold", "encoder", "ip_address", "created_at"]
    list_filter = ["decision", "encoder"]
    search_fields = ["id", "user_email", "ip_address", "consent_audio_sha256"]
    raw_id_fields = ["user", "challenge", "reviewed_by"]
    readonly_fields = [
        "id",
        "user_email",
        "statement",
        "nonce",
        "consent_audio",
        "consent_audio_sha256",
        "consent_duration_seconds",
        "speaker_score",
        "threshold",
        "encoder",
        "encoder_version",
        "decision",
        "decision_reason",
        "decided_at",
        "ip_address",
        "user_agent",
        "created_at",
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # audit evidence


@admin.register(ConsentChallenge)
class ConsentChallengeAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "created_at", "expires_at", "used_at"]
    search_fields = ["id", "user__email"]
    raw_id_fields = ["user"]
