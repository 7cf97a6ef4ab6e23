"""Request bodies are capped by the web server before any of the body is read (odiadev/transport.py), against real
Daphne: a 100 MB multipart POST without credentials, to any path, is answered 413 `request_too_large` while the
Daphne process's peak memory grows by less than 50 MB (it grew by ~1.2 GB when Twisted parsed such a body), also
four at once; a body over the global cap still reaches the application on an upload path.

The peak (VmHWM) is reset to the current size before each measurement (`/proc/<pid>/clear_refs` 5)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import override_settings

from accounts.services import api_key_create
from odiadev.transport import body_limit_for
from tests.e2e.helpers import bearer
from tests.factories import UserFactory
from tests.support.processes import ROOT, database_url, free_port

HUNDRED_MB = 100 * 1024 * 1024
MAX_GROWTH_MB = 50
MULTIPART = "multipart/form-data; boundary=odiadev-boundary"


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


class PeakGrowth:
    """The growth (MB) of a process's peak resident memory over a `with` block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> PeakGrowth:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # the peak becomes the current size
        self.start_kb = _peak_kb(self.pid)
        return self

    def __exit__(self, *exc) -> None:
        self.mb = (_peak_kb(self.pid) - self.start_kb) / 1024


def _host_port(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").split(":")
    return host, int(port)


def _read_response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response read off a raw socket: (status, headers, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _oversized_post(base_url: str, path: str, *, send_body: bool = True) -> tuple[int, dict, bytes, float]:
    """A POST declaring a 100 MB multipart body: its answer, read before any of the body is sent (so an answer
    proves the server did not wait for it), then the body streamed anyway. Returns (status, headers, body,
    seconds to the answer)."""
    with socket.create_connection(_host_port(base_url), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {MULTIPART}\r\n"
            f"Content-Length: {HUNDRED_MB}\r\n\r\n".encode()
        )
        status, headers, body = _read_response(sock)
        answered = time.monotonic() - started
        if send_body:
            part = b"--odiadev-boundary\r\nContent-Disposition: form-data; name=f; filename=f\r\n\r\n"
            part += b"x" * (65536 - len(part))
            try:
                for _ in range(HUNDRED_MB // len(part)):
                    sock.sendall(part)
            except OSError:
                pass  # the server cut the connection: fine, it had answered
    return status, headers, body, answered


def _chunked(total: int, piece: int = 65536):
    for _ in range(total // piece):
        yield b"y" * piece


def _assert_too_large(status: int, body: bytes, limit: int) -> None:
    assert status == 413, body[:300]
    error = json.loads(body)["error"]
    assert error["code"] == "request_too_large"
    assert error["detail"] == {"max_bytes": limit}


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/nope-404", "/login/", "/health/live", "/v1/tts"])
def test_a_100_mb_multipart_post_without_credentials_is_refused_before_it_is_read(stack, path):
    with PeakGrowth(stack.web_pid) as growth:
        status, headers, body, answered = _oversized_post(stack.base_url, path)

    _assert_too_large(status, body, settings.WEB_MAX_BODY_BYTES)
    assert headers["connection"] == "close"
    assert answered < 5, "answered as soon as the headers were in, not after the body"
    assert growth.mb < MAX_GROWTH_MB, f"Daphne's peak grew by {growth.mb:.0f} MB"
    # and the process still serves
    assert httpx.get(f"{stack.base_url}/health/live", timeout=10).status_code == 200


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_refused_when_it_crosses_the_cap(stack):
    with PeakGrowth(stack.web_pid) as growth:
        response = httpx.post(
            f"{stack.base_url}/v1/tts",
            content=_chunked(HUNDRED_MB),  # no length: httpx sends it chunked
            headers={"Content-Type": MULTIPART},
            timeout=60,
        )

    _assert_too_large(response.status_code, response.content, settings.WEB_MAX_BODY_BYTES)
    assert growth.mb < MAX_GROWTH_MB, f"Daphne's peak grew by {growth.mb:.0f} MB"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_four_oversized_posts_at_once_do_not_add_up(stack):
    results: list[tuple[int, bytes]] = []

    def post(path: str) -> None:
        status, _headers, body, _answered = _oversized_post(stack.base_url, path)
        results.append((status, body))

    threads = [threading.Thread(target=post, args=(path,)) for path in ["/nope-404", "/login/", "/v1/tts", "/"]]
    with PeakGrowth(stack.web_pid) as growth:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert [status for status, _body in results] == [413] * 4
    assert growth.mb < MAX_GROWTH_MB, f"Daphne's peak grew by {growth.mb:.0f} MB for four"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_upload_path_takes_a_body_over_the_global_cap(stack):
    secret = api_key_create(user=UserFactory(), name="uploads").secret
    recording = b"\0" * (settings.WEB_MAX_BODY_BYTES + 3 * 1024 * 1024)  # over the global cap, under the upload cap
    files = {"sample": ("sample.wav", recording, "audio/wav"), "consent_audio": ("c.wav", b"", "audio/wav")}
    data = {"name": "Big", "challenge_id": "no-such-challenge"}

    uploaded = httpx.post(f"{stack.base_url}/v1/voices", headers=bearer(secret), files=files, data=data, timeout=60)
    elsewhere = httpx.post(f"{stack.base_url}/v1/tts", headers=bearer(secret), files=files, data=data, timeout=60)

    # the voices view read the whole body and judged it itself (the challenge does not exist)
    assert uploaded.status_code != 413, uploaded.text
    assert uploaded.json()["error"]["code"] != "request_too_large"
    assert 400 <= uploaded.status_code < 500, uploaded.text
    _assert_too_large(elsewhere.status_code, elsewhere.content, settings.WEB_MAX_BODY_BYTES)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_cap_holds_under_the_production_launcher(django_db_setup, tmp_path):
    """`python -m odiadev.web` (each worker runs `daphne --fd ... odiadev.asgi:application`) refuses the same way."""
    from django.db import connection

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "odiadev.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "WEB_CONCURRENCY": "1",
        "WEB_MAX_BODY_BYTES": "1000",
    }
    log = tmp_path / "web.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "odiadev.web", "-b", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base_url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)

        status, _headers, body, _answered = _oversized_post(base_url, "/nope-404", send_body=False)
        small = httpx.post(f"{base_url}/nope-404", content=b"x" * 900, timeout=10)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    _assert_too_large(status, body, 1000)
    assert small.status_code == 404  # under the cap: the application answers


@override_settings(
    WEB_MAX_BODY_BYTES=100, WEB_UPLOAD_MAX_BODY_BYTES=5000, WEB_UPLOAD_PATH_PREFIXES=["/v1/voices", "/provenance/"]
)
def test_the_upload_cap_holds_only_under_the_upload_prefixes():
    assert body_limit_for("/v1/voices") == 5000
    assert body_limit_for("/v1/voices/3f6c/sample?x=1") == 5000
    assert body_limit_for("/v1/%76oices") == 5000  # Daphne decodes the path before routing; so does the cap
    assert body_limit_for("http://example.com/provenance/") == 5000
    assert body_limit_for("/v1/tts") == 100
    assert body_limit_for("/login/?next=/v1/voices") == 100


def test_the_default_upload_cap_fits_a_voice_upload():
    assert settings.WEB_UPLOAD_MAX_BODY_BYTES >= 2 * settings.VOICE_UPLOAD_MAX_BYTES + 256 * 1024
    assert settings.WEB_UPLOAD_MAX_BODY_BYTES >= settings.PROVENANCE_UPLOAD_MAX_BYTES + 64 * 1024
    assert settings.WEB_MAX_BODY_BYTES <= 4 * 1024 * 1024
