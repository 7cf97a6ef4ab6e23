"""The public shapes of voices, cloned voice profiles, consent records and challenges."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .consent_check import consent_check_for
from .models import ConsentChallenge, ConsentRecord, VoiceProfile


class VoiceOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    engine = serializers.CharField()
    language = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    gender = serializers.CharField()
    description = serializers.CharField()
    sample_rate = serializers.IntegerField()
    model_id = serializers.CharField()

    class Meta:
        ref_name = "Voice"


class TranscriptWarningSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="`transcript_disagrees`")
    message = serializers.CharField()
    heard = serializers.CharField(help_text="What speech recognition heard in the sample.")
    wer = serializers.FloatField(help_text="Word error rate of the transcript against what was heard.")

    class Meta:
        ref_name = "TranscriptWarning"


class RejectionSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    recording = serializers.CharField(allow_null=True, help_text="The recording at fault: `consent` or `sample`.")

    class Meta:
        ref_name = "VoiceRejection"


class VoiceProfileOutputSerializer(serializers.ModelSerializer):
    kind = serializers.SerializerMethodField()
    status = serializers.CharField(
        help_text=(
            "`verifying`, `active` or `rejected`. A voice whose consent check sits just below a threshold stays "
            "`verifying` while a person reviews its consent recording (`consent_outcome` is `review`)."
        )
    )
    rejection = serializers.SerializerMethodField()
    speaker_score = serializers.FloatField(source="consent.speaker_score", allow_null=True)
    sample_transcript_source = serializers.CharField(
        help_text="`owner` (typed at upload or corrected since) or `asr` (transcribed by us)."
    )
    transcript_warning = serializers.SerializerMethodField()
    consent_outcome = serializers.CharField(
        source="consent.decision", help_text="The consent check: `pending`, `accepted`, `rejected` or `review`."
    )

    class Meta:
        model = VoiceProfile
        ref_name = "VoiceProfile"
        fields = [
            "id",
            "name",
            "kind",
            "status",
            "rejection",
            "consent_outcome",
            "sample_transcript",
            "sample_transcript_source",
            "transcript_warning",
            "sample_duration_seconds",
            "speaker_score",
            "encoder",
            "version",
            "created_at",
            "verified_at",
        ]
        read_only_fields = fields

    def get_kind(self, profile) -> str:
        return "cloned"

    @extend_schema_field(RejectionSerializer(allow_null=True))
    def get_rejection(self, profile) -> dict | None:
        if not profile.rejection_code:
            return None
        return {
            "code": profile.rejection_code,
            "message": profile.rejection_message,
            "recording": profile.rejection_recording or None,
        }

    @extend_schema_field(TranscriptWarningSerializer(allow_null=True))
    def get_transcript_warning(self, profile) -> dict | None:
        return profile.transcript_warning or None


class ConsentChallengeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentChallenge
        ref_name = "ConsentChallenge"
        fields = ["id", "statement", "expires_at", "used_at", "created_at"]
        read_only_fields = fields


class ConsentCheckSerializer(serializers.Serializer):
    """What the consent check heard and decided (null while pending)."""

    outcome = serializers.CharField(help_text="`accepted`, `rejected` or `review` (a person decides).")
    code = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    recording = serializers.CharField(allow_null=True, help_text="Which recording failed: `consent` or `sample`.")
    transcript = serializers.CharField(help_text="What we heard in the consent recording.")
    phrase = serializers.DictField(
        help_text="{text, score, threshold, words: [{word, heard, ok, listened?}], missing}; `listened`: the word "
        "was not written by the recogniser but found when listened for at its place"
    )
    statement = serializers.DictField(help_text="{share, threshold, missing}")
    speaker = serializers.DictField(help_text="{similarity, threshold}")
    review_margin = serializers.FloatField(allow_null=True)
    asr = serializers.DictField(help_text="{model_id, model_revision}")

    class Meta:
        ref_name = "ConsentCheck"


class ConsentRecordOutputSerializer(serializers.ModelSerializer):
    check = serializers.SerializerMethodField()

    class Meta:
        model = ConsentRecord
        ref_name = "ConsentRecord"
        fields = [
            "id",
            "statement",
            "consent_audio_sha256",
            "consent_duration_seconds",
            "speaker_score",
            "threshold",
            "encoder",
            "encoder_version",
            "decision",
            "decision_reason",
            "decided_at",
            "created_at",
            "check",
        ]
        read_only_fields = fields

    @extend_schema_field(ConsentCheckSerializer(allow_null=True))
    def get_check(self, record) -> dict | None:
        return consent_check_for(record)


def voice_profile_payload(profile: VoiceProfile) -> dict:
    return dict(VoiceProfileOutputSerializer(profile).data)
