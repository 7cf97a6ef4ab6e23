"""The public shapes of voices, cloned voice profiles, consent records and challenges."""

from rest_framework import serializers

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


class VoiceProfileOutputSerializer(serializers.ModelSerializer):
    kind = serializers.SerializerMethodField()
    rejection = serializers.SerializerMethodField()
    speaker_score = serializers.FloatField(source="consent.speaker_score", allow_null=True)

    class Meta:
        model = VoiceProfile
        ref_name = "VoiceProfile"
        fields = [
            "id",
            "name",
            "kind",
            "status",
            "rejection",
            "sample_transcript",
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

    def get_rejection(self, profile) -> dict | None:
        if not profile.rejection_code:
            return None
        return {"code": profile.rejection_code, "message": profile.rejection_message}


class ConsentChallengeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentChallenge
        ref_name = "ConsentChallenge"
        fields = ["id", "statement", "expires_at", "used_at", "created_at"]
        read_only_fields = fields


class ConsentRecordOutputSerializer(serializers.ModelSerializer):
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
        ]
        read_only_fields = fields


def voice_profile_payload(profile: VoiceProfile) -> dict:
    return dict(VoiceProfileOutputSerializer(profile).data)
