"""The published OpenAPI schema (/v1/schema) lists every status an operation can answer, with the error body."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def schema(api):
    response = api.get("/v1/schema", {"format": "json"}, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def _error_ref(operation, status: str) -> str | None:
    response = operation["responses"].get(status)
    return response and response["content"]["application/json"]["schema"]["$ref"]


def test_every_operation_lists_the_errors_any_request_can_meet(schema):
    for name, operation in _operations(schema):
        for status in ("403", "429", "503"):
            assert _error_ref(operation, status) == ERROR_REF, (name, status)


def test_errors_follow_from_the_operations_shape(schema):
    for name, operation in _operations(schema):
        parameters = operation.get("parameters", [])
        if "requestBody" in operation:
            for status in ("400", "413", "415"):
                assert _error_ref(operation, status) == ERROR_REF, (name, status)
        if any(parameter["in"] == "path" for parameter in parameters):
            assert _error_ref(operation, "404") == ERROR_REF, name
        if name != "POST /v1/provenance/verify":  # the one operation without authentication
            assert _error_ref(operation, "401") == ERROR_REF, name


def test_views_declare_their_own_errors(schema):
    operations = dict(_operations(schema))

    assert {"402", "404", "409"} <= set(operations["POST /v1/tts"]["responses"])
    assert {"402", "502", "504"} <= set(operations["POST /v1/audio/speech"]["responses"])
    assert {"409", "410", "416"} <= set(operations["GET /v1/tts/{job_id}/audio"]["responses"])
    assert {"409", "502"} <= set(operations["POST /v1/billing/checkout"]["responses"])


def test_the_error_body_is_described(schema):
    components = schema["components"]["schemas"]

    assert components["Error"]["required"] == ["error"]
    assert set(components["ErrorBody"]["required"]) == {"code", "message", "detail"}


def test_page_size_is_bounded_in_the_schema(schema):
    (operation,) = [op for name, op in _operations(schema) if name == "GET /v1/tts"]
    page_size = next(p for p in operation["parameters"] if p["name"] == "page_size")

    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}


def test_openai_voice_is_a_string_or_an_object_with_an_id(schema):
    voice = schema["components"]["schemas"]["OpenAiSpeechRequest"]["properties"]["voice"]

    assert [option["type"] for option in voice["oneOf"]] == ["string", "object"]
    assert voice["oneOf"][1]["required"] == ["id"]
