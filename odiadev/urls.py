"""URL map: dashboard pages, the /v1 API, docs, health, metrics and the admin."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from billing import apis as billing_apis
from ops import views as ops_views
from provenance import apis as provenance_apis
from synthesis import apis as synthesis_apis
from voices import apis as voices_apis
from webhooks import apis as webhooks_apis

api_patterns = [
    path("usage", billing_apis.UsageApi.as_view(), name="usage"),
    path("account", billing_apis.AccountApi.as_view(), name="account"),
    path("billing/invoices", billing_apis.InvoicesApi.as_view(), name="billing-invoices"),
    path("billing/checkout", billing_apis.CheckoutApi.as_view(), name="billing-checkout"),
    path("billing/portal", billing_apis.PortalApi.as_view(), name="billing-portal"),
    path("voices", voices_apis.VoiceListApi.as_view(), name="voices"),
    path("voices/consent-challenge", voices_apis.ConsentChallengeApi.as_view(), name="consent-challenge"),
    path(
        "voices/consent-challenge/<uuid:challenge_id>",
        voices_apis.ConsentChallengeDetailApi.as_view(),
        name="consent-challenge-detail",
    ),
    path("voices/<uuid:voice_id>", voices_apis.VoiceDetailApi.as_view(), name="voice-detail"),
    path("voices/<uuid:voice_id>/sample", voices_apis.VoiceSampleApi.as_view(), name="voice-sample"),
    path("voices/<uuid:voice_id>/consent", voices_apis.VoiceConsentApi.as_view(), name="voice-consent"),
    path("tts", synthesis_apis.TtsApi.as_view(), name="tts"),
    path("tts/stream", synthesis_apis.TtsStreamApi.as_view(), name="tts-stream"),
    path("audio/speech", synthesis_apis.OpenAiSpeechApi.as_view(), name="openai-speech"),
    path("tts/<uuid:job_id>", synthesis_apis.TtsDetailApi.as_view(), name="tts-detail"),
    path("tts/<uuid:job_id>/audio", synthesis_apis.TtsAudioApi.as_view(), name="tts-audio"),
    path("tts/<uuid:job_id>/cancel", synthesis_apis.TtsCancelApi.as_view(), name="tts-cancel"),
    path("pronunciations", synthesis_apis.PronunciationListApi.as_view(), name="pronunciations"),
    path(
        "pronunciations/<uuid:pronunciation_id>",
        synthesis_apis.PronunciationDetailApi.as_view(),
        name="pronunciation-detail",
    ),
    path("webhooks", webhooks_apis.WebhookListApi.as_view(), name="webhooks"),
    path(
        "webhooks/deliveries/<uuid:delivery_id>/resend",
        webhooks_apis.WebhookDeliveryResendApi.as_view(),
        name="webhook-delivery-resend",
    ),
    path("webhooks/<uuid:webhook_id>", webhooks_apis.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:webhook_id>/rotate-secret",
        webhooks_apis.WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<uuid:webhook_id>/test", webhooks_apis.WebhookTestApi.as_view(), name="webhook-test"),
    path(
        "webhooks/<uuid:webhook_id>/deliveries",
        webhooks_apis.WebhookDeliveryListApi.as_view(),
        name="webhook-deliveries",
    ),
    path("provenance/verify", provenance_apis.ProvenanceVerifyApi.as_view(), name="provenance-verify"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path("v1/", include((api_patterns, "api"))),
    path("health/live", ops_views.health_live, name="health-live"),
    path("health", ops_views.health, name="health"),
    path("metrics", ExportToDjangoView, name="metrics"),
    path("stripe/webhook/", billing_apis.StripeWebhookApi.as_view(), name="stripe-webhook"),
    # Operators' bookmarks from before the restructure: these models moved from `ops` to `controls` / `accounts`.
    re_path(
        r"^admin/ops/(?P<rest>(switch|switchchange|ipblock|abuseflag)/.*)$",
        RedirectView.as_view(url="/admin/controls/%(rest)s"),
    ),
    re_path(r"^admin/ops/(?P<rest>userblock/.*)$", RedirectView.as_view(url="/admin/accounts/%(rest)s")),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("synthesis.urls")),
    path("", include("voices.urls")),
    path("", include("billing.urls")),
    path("", include("ops.urls")),
    path("", include("webhooks.urls")),
    path("", include("provenance.urls")),
]

handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
