"""Synthesis' routes under /v1/ (included by the root URL map in the `api` namespace)."""

from django.urls import path

from . import apis, captions_apis, openai_apis, stream_apis

urlpatterns = [
    path("tts", apis.TtsApi.as_view(), name="tts"),
    path("tts/stream", stream_apis.TtsStreamApi.as_view(), name="tts-stream"),
    path("audio/speech", openai_apis.OpenAiSpeechApi.as_view(), name="openai-speech"),
    path("tts/<uuid:job_id>", apis.TtsDetailApi.as_view(), name="tts-detail"),
    path("tts/<uuid:job_id>/audio", apis.TtsAudioApi.as_view(), name="tts-audio"),
    path("tts/<uuid:job_id>/cancel", apis.TtsCancelApi.as_view(), name="tts-cancel"),
    path("tts/<uuid:job_id>/captions.srt", captions_apis.TtsCaptionsSrtApi.as_view(), name="tts-captions-srt"),
    path("tts/<uuid:job_id>/captions.vtt", captions_apis.TtsCaptionsVttApi.as_view(), name="tts-captions-vtt"),
    path("pronunciations", apis.PronunciationListApi.as_view(), name="pronunciations"),
    path(
        "pronunciations/<uuid:pronunciation_id>",
        apis.PronunciationDetailApi.as_view(),
        name="pronunciation-detail",
    ),
]
