"""The public shape of a job, shared by the REST API, the websocket events and the dashboard."""

import threading

from django.conf import settings
from django.core import signing
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Pronunciation, SynthesisJob

_AUDIO_SALT = "synthesis.audio"


def audio_token_for(job: SynthesisJob) -> str:
    return signing.TimestampSigner(salt=_AUDIO_SALT).sign(str(job.id))


def audio_token_valid(token: str, job_id, max_age: int) -> bool:
    try:
        return signing.TimestampSigner(salt=_AUDIO_SALT).unsign(token, max_age=max_age) == str(job_id)
    except signing.BadSignature:
        return False


def job_audio_path(job: SynthesisJob) -> str:
    """A signed, expiring path to the job's audio: usable without credentials until it expires."""
    return f"{reverse('api:tts-audio', kwargs={'job_id': job.id})}?token={audio_token_for(job)}"


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class JobIntelligibilitySerializer(serializers.Serializer):
    wer = serializers.FloatField(allow_null=True, help_text="Word error rate of the output against its text.")
    heard = serializers.CharField(help_text="What the speech recogniser heard.")
    model = serializers.CharField(help_text="The recogniser (model and revision).")
    threshold = serializers.FloatField(help_text="The highest WER that counts as intelligible.")
    seconds = serializers.FloatField(
        allow_null=True, help_text="Seconds of the output heard (the start of a long one)."
    )


class JobWordSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="A word of the text as sent (a written form such as ₦2,500 is one word).")
    start = serializers.FloatField(help_text="Seconds from the start of the audio.")
    end = serializers.FloatField(help_text="Seconds from the start of the audio.")


class JobOutputSerializer(serializers.ModelSerializer):
    """`audio_url` is relative here; `job_payload` puts the caller's base URL in front of it."""

    format = serializers.CharField(source="output_format")
    spoken_text = serializers.SerializerMethodField()
    audio_url = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    intelligibility = serializers.SerializerMethodField()
    words = serializers.SerializerMethodField()

    class Meta:
        model = SynthesisJob
        ref_name = "Job"
        fields = [
            "id",
            "status",
            "cached",
            "text",
            "spoken_text",
            "characters",
            "voice_id",
            "engine",
            "format",
            "sample_rate",
            "bitrate",
            "speed",
            "seed",
            "watermark",
            "timestamps",
            "words",
            "duration_seconds",
            "audio_bytes",
            "engine_seconds",
            "chunks_done",
            "chunks_total",
            "audio_url",
            "audio_expired_at",
            "error",
            "intelligibility",
            "created_at",
            "queued_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_spoken_text(self, job: SynthesisJob) -> str:
        """What the engine read: the text after pronunciations and normalisation."""
        return job.spoken_text or job.text

    def get_audio_url(self, job: SynthesisJob) -> str | None:
        if job.status != "succeeded" or not job.audio:
            return None
        return job_audio_path(job)

    def get_error(self, job: SynthesisJob) -> dict | None:
        if not job.error_code:
            return None
        return {"code": job.error_code, "message": job.error_message}

    @extend_schema_field(JobWordSerializer(many=True, allow_null=True))
    def get_words(self, job: SynthesisJob) -> list | None:
        """With `timestamps`: each word of the text with when it is said in the audio (seconds); null until the job
        succeeds, and for jobs without timestamps."""
        return job.words

    @extend_schema_field(JobIntelligibilitySerializer(allow_null=True))
    def get_intelligibility(self, job: SynthesisJob) -> dict | None:
        """How well a speech recogniser understood the output: every cloned-voice job and a sample of built-in
        ones, a few seconds after they succeed; null until then, for the others, and where scoring failed."""
        if job.intelligibility_wer is None:
            return None
        return {
            "wer": job.intelligibility_wer,
            "heard": job.intelligibility_transcript,
            "model": job.intelligibility_model,
            "threshold": settings.INTELLIGIBILITY_WER_THRESHOLD,
            "seconds": job.intelligibility_seconds,
        }


class PronunciationOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Pronunciation
        ref_name = "Pronunciation"
        fields = ["id", "word", "replacement", "case_sensitive", "whole_word", "created_at", "updated_at"]
        read_only_fields = fields


_job_serializer: JobOutputSerializer | None = None
_job_serializer_lock = threading.Lock()


def job_payload(job: SynthesisJob, *, base_url: str = "") -> dict:
    """The job as the API shows it (JSON-ready: DRF renders UUIDs and datetimes as strings).

    A ModelSerializer builds its fields from the model on every instantiation (about 2 ms for a job, twice per
    cache hit). The fields hold no state of the job they render, so the process renders every job with one
    serializer, built once, and puts `base_url` in front of the audio link itself."""
    global _job_serializer
    if _job_serializer is None:
        with _job_serializer_lock:
            if _job_serializer is None:
                serializer = JobOutputSerializer()
                _ = serializer.fields  # bound before any thread can use it
                _job_serializer = serializer
    payload = _job_serializer.to_representation(job)
    if base_url and payload["audio_url"]:
        payload["audio_url"] = base_url + payload["audio_url"]
    return payload
