"""Retries: 429/503 answers are repeated after their Retry-After, with the same Idempotency-Key on POST /v1/tts;
errors carry the API's error body. Against a small local HTTP server scripted per test."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from odiadev_sdk import APIError, AsyncClient, Client, RetryPolicy
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

JOB = {"id": "7d4f3e8a-0000-4000-8000-000000000001", "status": "queued"}


def _script(httpserver: HTTPServer, answers: list[Response]) -> list[tuple[float, Request]]:
    """Answer each request with the next of `answers`; returns the (arrival time, request) log."""
    seen: list[tuple[float, Request]] = []

    def handler(request: Request) -> Response:
        seen.append((time.monotonic(), request))
        return answers[min(len(seen), len(answers)) - 1]

    httpserver.expect_request("/v1/tts").respond_with_handler(handler)
    return seen


def _error(status: int, code: str, retry_after: str | None = None) -> Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = {"error": {"code": code, "message": f"{code} message", "detail": {"retry_after": retry_after}}}
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


def _ok() -> Response:
    return Response(json.dumps(JOB), status=202, content_type="application/json")


def test_a_503_is_retried_after_its_retry_after_with_the_same_idempotency_key(httpserver):
    seen = _script(httpserver, [_error(503, "service_unavailable", "1"), _ok()])
    client = Client(api_key="k", base_url=httpserver.url_for(""))

    started = time.monotonic()
    job = client.tts.create("Hello.", voice_id="joe")

    assert job == JOB
    assert len(seen) == 2
    assert seen[1][0] - seen[0][0] >= 0.95  # waited the server's Retry-After, not the 0.5 s backoff
    keys = [request.headers.get("Idempotency-Key") for _, request in seen]
    assert keys[0]
    assert keys[0] == keys[1]
    assert seen[0][1].headers["Authorization"] == "Bearer k"
    assert json.loads(seen[1][1].get_data()) == {"text": "Hello.", "voice_id": "joe"}
    assert time.monotonic() - started < 5


def test_each_call_gets_its_own_idempotency_key(httpserver):
    seen = _script(httpserver, [_ok()])
    client = Client(api_key="k", base_url=httpserver.url_for(""))

    client.tts.create("One.")
    client.tts.create("One.")

    assert seen[0][1].headers["Idempotency-Key"] != seen[1][1].headers["Idempotency-Key"]


def test_async_client_retries_a_429_after_its_retry_after(httpserver):
    seen = _script(httpserver, [_error(429, "rate_limited", "1"), _ok()])

    async def main():
        async with AsyncClient(api_key="k", base_url=httpserver.url_for("")) as client:
            return await client.tts.create("Hello.")

    assert asyncio.run(main()) == JOB
    assert len(seen) == 2
    assert seen[1][0] - seen[0][0] >= 0.95


def test_after_the_last_retry_the_error_is_raised_with_code_message_detail_and_status(httpserver):
    seen = _script(httpserver, [_error(503, "service_unavailable", "0")])
    client = Client(api_key="k", base_url=httpserver.url_for(""), retry=RetryPolicy(max_retries=2))

    with pytest.raises(APIError) as raised:
        client.tts.create("Hello.")

    assert len(seen) == 3
    error = raised.value
    assert (error.status, error.code, error.message) == (503, "service_unavailable", "service_unavailable message")
    assert error.detail == {"retry_after": "0"}
    assert error.retry_after == 0


def test_a_retry_after_beyond_the_policy_limit_is_not_waited_for(httpserver):
    seen = _script(httpserver, [_error(429, "rate_limited", "3600"), _ok()])
    client = Client(api_key="k", base_url=httpserver.url_for(""))

    started = time.monotonic()
    with pytest.raises(APIError) as raised:
        client.tts.create("Hello.")

    assert raised.value.code == "rate_limited"
    assert raised.value.retry_after == 3600
    assert len(seen) == 1
    assert time.monotonic() - started < 2


def test_a_refusal_that_is_not_transient_is_raised_at_once(httpserver):
    seen = _script(httpserver, [_error(400, "invalid_format"), _ok()])
    client = Client(api_key="k", base_url=httpserver.url_for(""))

    with pytest.raises(APIError) as raised:
        client.tts.create("Hello.", format="xyz")

    assert (raised.value.status, raised.value.code) == (400, "invalid_format")
    assert len(seen) == 1
