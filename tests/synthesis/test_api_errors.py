"""Bad input gets a clear 4xx with a stable code, never a 500, and leaves no row behind."""

import json

import pytest

from billing.services import plan_assign
from synthesis.models import SynthesisJob


def _post(api, body, **kwargs):
    return api.post("/v1/tts", data=json.dumps(body), content_type="application/json", **kwargs)


def _error(response):
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "detail"}
    assert body["error"]["message"]
    return body["error"]["code"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": ""}, 400, "text_empty"),
        ({"text": "   \n\t  "}, 400, "text_empty"),
        ({}, 400, "text_empty"),
        ({"text": None}, 400, "text_empty"),
        ({"text": "x" * 5001}, 400, "text_too_long"),
        ({"text": "Hello", "voice_id": "nobody"}, 404, "voice_not_found"),
        ({"text": "Hello", "format": "aiff"}, 400, "invalid_format"),
        ({"text": "Hello", "format": 3}, 400, "invalid_format"),
        ({"text": "Hello", "speed": 0.49}, 400, "invalid_speed"),
        ({"text": "Hello", "speed": 2.01}, 400, "invalid_speed"),
        ({"text": "Hello", "speed": "fast"}, 400, "invalid_speed"),
        ({"text": "Hello", "speed": "NaN"}, 400, "invalid_speed"),
        ({"text": "Hello", "seed": -1}, 400, "invalid_seed"),
        ({"text": "Hello", "seed": "abc"}, 400, "invalid_seed"),
    ],
)
def test_invalid_request_is_refused_with_its_code(api, body, status, code):
    response = _post(api, body)

    assert response.status_code == status, response.content
    assert _error(response) == code
    assert SynthesisJob.objects.count() == 0


def test_text_too_long_says_the_plan_limit(api, user):
    response = _post(api, {"text": "y" * 1001})
    assert response.json()["error"]["detail"] == {"characters": 1001, "max_characters": 1000}  # Free

    plan_assign(user=user, slug="pro")
    response = _post(api, {"text": "y" * 6000})
    assert response.json()["error"]["detail"] == {"characters": 6000, "max_characters": 5000}  # the platform cap


def test_one_megabyte_text_is_refused_without_a_row(api):
    response = _post(api, {"text": "z" * (1024 * 1024)})

    assert response.status_code == 400
    assert _error(response) == "text_too_long"
    assert SynthesisJob.objects.count() == 0


def test_body_over_the_upload_limit_is_413(api):
    response = _post(api, {"text": "z" * (3 * 1024 * 1024)})

    assert response.status_code == 413
    assert _error(response) == "request_too_large"


def test_malformed_json(api):
    response = api.post("/v1/tts", data='{"text": "unterminated', content_type="application/json")

    assert response.status_code == 400
    assert _error(response) == "malformed_json"


def test_json_that_is_not_an_object(api):
    response = api.post("/v1/tts", data='["text"]', content_type="application/json")

    assert response.status_code == 400
    assert _error(response) == "invalid_request"


def test_wrong_content_type(api):
    response = api.post("/v1/tts", data="text=hello", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert _error(response) == "unsupported_media_type"
    assert SynthesisJob.objects.count() == 0


def test_unknown_job_id_is_404(api):
    response = api.get("/v1/tts/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404
    assert _error(response) == "not_found"


def test_unknown_api_path_is_json_404(api):
    response = api.get("/v1/nothing-here")

    assert response.status_code == 404
    assert _error(response) == "not_found"


def test_wrong_method_is_405(api):
    response = api.delete("/v1/voices")

    assert response.status_code == 405
    assert _error(response) == "method_not_allowed"
