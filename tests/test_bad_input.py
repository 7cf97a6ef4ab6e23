"""Bad input anywhere under /v1 (and Stripe's webhook) is a clear 4xx with a stable code, never a 500.

Each case here was a 500 (or a silent coercion) before: found by an outside audit and by schema fuzzing.
"""

from __future__ import annotations

import json

import httpx
import pytest
from django.test import Client
from djstripe.models import WebhookEventTrigger

from synthesis.models import Pronunciation, SynthesisJob
from tests.conftest import STRIPE_TEST_WEBHOOK_SECRET
from tests.support import fake_stripe as fs
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def _error(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    # `param` (the field at fault) is added on the OpenAI-compatible endpoint only
    assert {"code", "message", "detail"} <= set(body["error"]) <= {"code", "message", "detail", "param"}
    assert body["error"]["message"]
    return body["error"]["code"]


def _post(api, path, body, method="post"):
    raw = body if isinstance(body, str) else json.dumps(body)
    return getattr(api, method)(path, data=raw, content_type="application/json")


# ---------------------------------------------------------------------------------------------------------------
# OpenAI's voice: a name, or {"id": name}; anything else is 400, not a 500 in the translation.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("voice", [{"id": 5}, None, ["alloy"], {}, 5, {"id": None}, {"id": ["x"]}, True])
def test_openai_voice_of_the_wrong_shape_is_invalid_request(api, voice):
    response = _post(api, "/v1/audio/speech", {"model": "tts-1", "input": "Hello", "voice": voice})

    assert response.status_code == 400, response.content
    assert _error(response) == "invalid_request"
    assert "voice" in response.json()["error"]["detail"]
    assert SynthesisJob.objects.count() == 0


@pytest.mark.parametrize("field", ["input", "model", "response_format", "instructions", "stream_format"])
def test_openai_string_fields_are_strings(api, field):
    body = {"model": "tts-1", "input": "Hello", "voice": "alloy", field: 5}

    response = _post(api, "/v1/audio/speech", body)

    assert response.status_code == 400, response.content
    assert _error(response) in ("invalid_request", "text_empty")
    assert SynthesisJob.objects.count() == 0


# ---------------------------------------------------------------------------------------------------------------
# JSON nested deeper than anyone needs: 400 `malformed_json` from the one parser, not a RecursionError.
# ---------------------------------------------------------------------------------------------------------------
DEEP_LIST = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000
MODERATELY_DEEP = '{"text": "Hello", "x": ' + "[" * 100 + "]" * 100 + "}"


@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT, MODERATELY_DEEP], ids=["list", "object", "depth-100"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/tts"),
        ("post", "/v1/audio/speech"),
        ("post", "/v1/pronunciations"),
        ("post", "/v1/webhooks"),
        ("patch", "/v1/account"),
    ],
)
def test_deeply_nested_json_is_malformed_json(api, method, path, body):
    response = _post(api, path, body, method=method)

    assert response.status_code == 400, response.content[:500]
    assert _error(response) == "malformed_json"
    assert "deep" in response.json()["error"]["message"]


def test_reasonable_nesting_still_parses(api):
    response = _post(api, "/v1/pronunciations", {"word": "ODIADEV", "replacement": "oh dee", "x": [[[[1]]]]})

    assert response.status_code == 201, response.content


# ---------------------------------------------------------------------------------------------------------------
# Stripe: a correctly signed body that is not a JSON object is 400 `invalid_payload`, nothing stored.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", ["[]", '"x"', "5", "null", "not json", DEEP_LIST, DEEP_OBJECT])
def test_signed_stripe_body_that_is_not_an_event_is_400(settings, payload):
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_TEST_WEBHOOK_SECRET
    header = fs.signature_header(payload, STRIPE_TEST_WEBHOOK_SECRET)

    response = Client().post(
        "/stripe/webhook/", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )

    assert response.status_code == 400, response.content[:500]
    assert _error(response) == "invalid_payload"
    assert WebhookEventTrigger.objects.count() == 0


# ---------------------------------------------------------------------------------------------------------------
# Text with nothing to say: zero-width and other invisible characters only are `text_empty` at submit.
# ---------------------------------------------------------------------------------------------------------------
INVISIBLE = [
    "\u200b",  # zero width space
    "\u200c\u200d",  # zero width non-joiner, joiner
    "\ufeff",  # byte order mark
    "\u2060",  # word joiner
    "\u00ad\u00ad",  # soft hyphens
    "\u200b \u3000\u00a0\u200e\u200f\u202a\u202c",  # with ideographic / no-break spaces and direction marks
    "\u0301",  # a combining accent with nothing to sit on
    "\x00\x07",  # control characters
]


@pytest.mark.parametrize("text", INVISIBLE)
def test_invisible_text_is_text_empty(api, text):
    response = _post(api, "/v1/tts", {"text": text})

    assert response.status_code == 400, response.content
    assert _error(response) == "text_empty"
    assert SynthesisJob.objects.count() == 0


def test_invisible_openai_input_is_text_empty(api):
    response = _post(api, "/v1/audio/speech", {"model": "tts-1", "input": "\u200b\u2060\ufeff", "voice": "alloy"})

    assert response.status_code == 400, response.content
    assert _error(response) == "text_empty"


# ---------------------------------------------------------------------------------------------------------------
# Strict strings: a number where the schema says string is refused, not read as its digits.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "field", "model"),
    [
        ("/v1/tts", {"text": 5}, "text", SynthesisJob),
        ("/v1/tts", {"text": 5.5}, "text", SynthesisJob),
        ("/v1/tts", {"text": "Hello", "voice_id": 5}, "voice_id", SynthesisJob),
        ("/v1/tts", {"text": "Hello", "format": 3}, "format", SynthesisJob),
        ("/v1/pronunciations", {"word": 5, "replacement": "five"}, "word", Pronunciation),
        ("/v1/pronunciations", {"word": "five", "replacement": 5}, "replacement", Pronunciation),
        ("/v1/webhooks", {"url": 5, "events": ["job.succeeded"]}, "url", WebhookEndpoint),
        ("/v1/webhooks", {"url": "https://example.com/h", "events": [5]}, "events", WebhookEndpoint),
        (
            "/v1/webhooks",
            {"url": "https://example.com/h", "events": [], "description": 5},
            "description",
            WebhookEndpoint,
        ),
    ],
)
def test_a_number_is_not_a_string(api, path, body, field, model):
    response = _post(api, path, body)

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["detail"]
    assert model.objects.count() == 0


def test_text_that_is_a_number_says_it_must_be_a_string(api):
    response = _post(api, "/v1/tts", {"text": 5})

    assert _error(response) == "invalid_request"
    assert response.json()["error"]["detail"] == {"text": ["Not a valid string."]}


# ---------------------------------------------------------------------------------------------------------------
# Pages: page_size is 1..100 as the schema says; outside that is 400, not silently capped.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("page_size", ["101", "1000", "0", "-1", "abc"])
def test_page_size_outside_the_schema_is_400(api, page_size):
    response = api.get("/v1/tts", {"page_size": page_size})

    assert response.status_code == 400, response.content
    assert _error(response) == "invalid_request"
    assert "page_size" in response.json()["error"]["detail"]


@pytest.mark.parametrize("page_size", ["1", "100"])
def test_page_size_inside_the_schema_is_used(api, page_size):
    response = api.get("/v1/tts", {"page_size": page_size})

    assert response.status_code == 200, response.content


# ---------------------------------------------------------------------------------------------------------------
# PATCH /v1/account: a partial update, as the schema says (every field optional).
# ---------------------------------------------------------------------------------------------------------------
def test_account_patch_without_fields_changes_nothing(api):
    before = api.get("/v1/account").json()

    response = _post(api, "/v1/account", {}, method="patch")

    assert response.status_code == 200, response.content
    assert response.json() == before


def test_account_patch_with_a_field_changes_it(api):
    response = _post(api, "/v1/account", {"watermark_opt_in": True}, method="patch")

    assert response.status_code == 200, response.content
    assert response.json()["watermark_opt_in"] is True


def test_account_patch_with_a_non_boolean_is_400(api):
    response = _post(api, "/v1/account", {"watermark_opt_in": "maybe"}, method="patch")

    assert response.status_code == 400
    assert _error(response) == "invalid_request"


# ---------------------------------------------------------------------------------------------------------------
# Through the real web server: Daphne's request threads parse the same way.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_deep_json_and_odd_stripe_bodies_through_daphne(stack, transactional_db):
    from accounts.services import api_key_create
    from tests.factories import UserFactory

    secret = api_key_create(user=UserFactory(), name="deep").secret
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    deep = httpx.post(f"{stack.base_url}/v1/tts", content=DEEP_LIST, headers=headers, timeout=30)
    voice = httpx.post(
        f"{stack.base_url}/v1/audio/speech", json={"input": "Hi", "voice": {"id": 5}}, headers=headers, timeout=30
    )
    stripe_bodies = [
        httpx.post(
            f"{stack.base_url}/stripe/webhook/",
            content=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": fs.signature_header(payload, STRIPE_TEST_WEBHOOK_SECRET),
            },
            timeout=30,
        )
        for payload in ("[]", '"x"', DEEP_OBJECT)
    ]

    assert (deep.status_code, _error(deep)) == (400, "malformed_json")
    assert (voice.status_code, _error(voice)) == (400, "invalid_request")
    assert [(r.status_code, _error(r)) for r in stripe_bodies] == [(400, "invalid_payload")] * 3
