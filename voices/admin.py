import mimetypes

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.exceptions import ApplicationError
from core.http import ranged_file_response

from .models import ConsentChallenge, ConsentRecord, ConsentReview, VoiceProfile
from .selectors import consent_review_queue, consent_review_reasons
from .services import voice_profile_delete
from .verification import consent_review_decide


@admin.register(VoiceProfile)
class VoiceProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "status", "rejection_code", "encoder", "created_at", "verified_at"]
    list_filter = ["status", "encoder", "sample_transcript_source"]
    search_fields = ["id", "name", "user__email"]
    raw_id_fields = ["user", "consent"]
    readonly_fields = ["id", "embedding", "sample_sha256", "created_at", "updated_at"]
    list_select_related = ["user"]

    # Through the service: the sample goes too, and the owner's storage figure with it.
    def delete_model(self, request, obj):
        voice_profile_delete(profile=obj)

    def delete_queryset(self, request, queryset):
        for profile in queryset:
            voice_profile_delete(profile=profile)


def _player(record: ConsentRecord, which: str) -> str:
    url = reverse("admin:voices_consentrecord_audio", args=[record.pk, which])
    return format_html('<audio controls preload="none" src="{}"></audio>', url)


class ConsentAudioMixin:
    """Staff-only streaming of the private recordings behind a consent record: audio is never public, so the
    players in the admin fetch it through this view, which checks the operator's permission first."""

    def get_urls(self):
        urls = super().get_urls()
        if self.model is not ConsentRecord:
            return urls
        view = self.admin_site.admin_view(self.audio_view)
        return [path("<uuid:record_id>/audio/<str:which>/", view, name="voices_consentrecord_audio"), *urls]

    def audio_view(self, request, record_id, which: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        record = get_object_or_404(ConsentRecord.objects.select_related("voice_profile"), pk=record_id)
        if which == "consent":
            field = record.consent_audio
        elif which == "sample":
            profile = getattr(record, "voice_profile", None)
            if profile is None:
                raise Http404("The voice (and its sample) was deleted.")
            field = profile.sample
        else:
            raise Http404
        if not field or not default_storage.exists(field.name):
            raise Http404("The recording is no longer stored.")
        content_type = mimetypes.guess_type(field.name)[0] or "application/octet-stream"
        return ranged_file_response(
            request,
            default_storage.open(field.name, "rb"),
            size=default_storage.size(field.name),
            content_type=content_type,
            filename=field.name.rsplit("/", 1)[-1],
        )

    @admin.display(description="consent recording")
    def consent_player(self, obj):
        return _player(obj, "consent") if obj.consent_audio else "-"

    @admin.display(description="voice sample")
    def sample_player(self, obj):
        return _player(obj, "sample") if hasattr(obj, "voice_profile") else "(voice deleted)"


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ConsentAudioMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "user_email",
        "decision",
        "decision_reason",
        "statement_share",
        "phrase_score",
        "speaker_score",
        "threshold",
        "ip_address",
        "created_at",
    ]
    list_filter = ["decision", "decision_reason", "encoder", "review_outcome"]
    search_fields = ["id", "user_email", "ip_address", "consent_audio_sha256"]
    raw_id_fields = ["user", "challenge", "reviewed_by"]
    readonly_fields = [
        "id",
        "user_email",
        "statement",
        "nonce",
        "consent_player",
        "sample_player",
        "consent_audio",
        "consent_audio_sha256",
        "consent_duration_seconds",
        "transcript",
        "statement_share",
        "statement_threshold",
        "phrase_score",
        "phrase_threshold",
        "speaker_score",
        "threshold",
        "review_margin",
        "encoder",
        "encoder_version",
        "asr_model_id",
        "asr_model_revision",
        "audit",
        "decision",
        "decision_reason",
        "decided_at",
        "ip_address",
        "user_agent",
        "review_outcome",
        "reviewed_at",
        "created_at",
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # audit evidence


@admin.register(ConsentReview)
class ConsentReviewAdmin(ConsentAudioMixin, admin.ModelAdmin):
    """The queue: consent records a person should listen to before trusting (the consent gate sent it to review,
    speaker score near the threshold, repeated attempts from one account or address, many voices from one
    address). Approving a consent sent to review activates its voice."""

    list_display = [
        "created_at",
        "user_email",
        "decision",
        "transcript",
        "speaker_score",
        "threshold",
        "ip_address",
        "reasons",
        "consent_player",
        "sample_player",
    ]
    list_filter = ["decision", "encoder"]
    search_fields = ["user_email", "ip_address"]
    list_select_related = ["voice_profile"]
    actions = ["approve", "reject"]

    def get_queryset(self, request):
        return consent_review_queue(super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # decided through the actions, which record the reviewer

    def has_delete_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return request.user.has_perm("voices.change_consentrecord")

    @admin.display(description="why")
    def reasons(self, obj):
        return format_html_join("", "<div>{}</div>", ((reason,) for reason in consent_review_reasons(obj)))

    def _decide(self, request, queryset, *, approve: bool):
        done = 0
        for record in queryset:
            try:
                consent_review_decide(record_id=record.pk, approve=approve, reviewer=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{record.user_email}: {exc.message}", messages.WARNING)
            else:
                done += 1
        verdict = "Approved" if approve else "Rejected (voices disabled)"
        self.message_user(request, f"{verdict}: {done} consent record(s).", messages.SUCCESS)

    @admin.action(description="Approve: the consent is genuine", permissions=["review"])
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description="Reject: disable the voice made with this consent", permissions=["review"])
    def reject(self, request, queryset):
        self._decide(request, queryset, approve=False)


@admin.register(ConsentChallenge)
class ConsentChallengeAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "ip_address", "created_at", "expires_at", "used_at"]
    search_fields = ["id", "user__email", "ip_address"]
    raw_id_fields = ["user"]
