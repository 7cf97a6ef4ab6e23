"""Access logs keep no secrets: Daphne's access-log lines carry `REDACTED` for the value of every sensitive query
parameter (signed audio links' `token`, websockets' `api_key`, ...), from `core.redaction.redact_query`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from websockets.sync.client import connect

from accounts.services import api_key_create
from core.redaction import redact_query
from tests.factories import UserFactory
from tests.support.processes import ROOT, database_url, free_port


def test_sensitive_query_values_are_redacted():
    assert redact_query("/v1/tts/5/audio?token=abc.def&download=1") == "/v1/tts/5/audio?token=REDACTED&download=1"
    assert redact_query("/ws/jobs/?api_key=odk_live_x") == "/ws/jobs/?api_key=REDACTED"
    assert (
        redact_query("/a?SIG=1&Api%5FKey=2&x-amz-signature=3")
        == "/a?SIG=REDACTED&Api%5FKey=REDACTED&x-amz-signature=REDACTED"
    )
    assert redact_query("/a?token&key=") == "/a?token=REDACTED&key=REDACTED"
    assert redact_query("/plain?page=2&q=token") == "/plain?page=2&q=token"
    assert redact_query("/no-query") == "/no-query"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_daphnes_access_log_redacts_tokens(stack):
    audio_token = f"audio-token-{uuid.uuid4().hex}"
    secret = api_key_create(user=UserFactory(), name="logged").secret

    httpx.get(f"{stack.base_url}/v1/tts/{uuid.uuid4()}/audio?token={audio_token}&download=1", timeout=10)
    httpx.post(f"{stack.base_url}/nope-404?sig={audio_token}", content=b"x" * (3 * 1024 * 1024), timeout=30)
    with connect(f"{stack.ws_url}/ws/jobs/?api_key={secret}", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
    httpx.get(f"{stack.base_url}/health/live", timeout=10)  # a later line: the ones above are written

    log = (stack.log_dir / "daphne.log").read_text()
    assert audio_token not in log
    assert secret not in log
    assert "/audio?token=REDACTED&download=1" in log
    assert '"POST /nope-404?sig=REDACTED" 413' in log  # the body cap's refusals are logged the same way


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_twisteds_own_request_log_is_redacted_too(tmp_path):
    """At `-v 2` Daphne also shows Twisted's request log, which formats the raw request target."""
    from django.db import connection

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "odiadev.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "daphne.log"
    daphne = Path(sys.executable).with_name("daphne")
    command = [str(daphne), "-v", "2", "-b", "127.0.0.1", "-p", str(port), "odiadev.asgi:application"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        httpx.get(f"http://127.0.0.1:{port}/health/live?token=secret-in-the-query&x=2", timeout=10)
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    lines = [line for line in log.read_text().splitlines() if "/health/live?" in line]
    assert len(lines) == 2, lines  # Daphne's access log and Twisted's
    assert all("token=REDACTED&x=2" in line for line in lines)
    assert "secret-in-the-query" not in log.read_text()
