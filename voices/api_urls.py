"""Voices' routes under /v1/ (included by the root URL map in the `api` namespace)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("voices", apis.VoiceListApi.as_view(), name="voices"),
    path("voices/consent-challenge", apis.ConsentChallengeApi.as_view(), name="consent-challenge"),
    path(
        "voices/consent-challenge/<uuid:challenge_id>",
        apis.ConsentChallengeDetailApi.as_view(),
        name="consent-challenge-detail",
    ),
    path("voices/<uuid:voice_id>", apis.VoiceDetailApi.as_view(), name="voice-detail"),
    path("voices/<uuid:voice_id>/sample", apis.VoiceSampleApi.as_view(), name="voice-sample"),
    path("voices/<uuid:voice_id>/consent", apis.VoiceConsentApi.as_view(), name="voice-consent"),
]
