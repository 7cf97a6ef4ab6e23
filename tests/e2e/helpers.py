"""Small clients for the live stack: HTTP with an API key and a websocket that collects job events."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

FINAL = {"succeeded", "failed", "cancelled"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def submit(stack, secret: str, **body) -> httpx.Response:
    return httpx.post(f"{stack.base_url}/v1/tts", json=body, headers=bearer(secret), timeout=60)


@contextmanager
def open_socket(stack, *, api_key: str | None = None, headers: dict | None = None):
    """An authenticated websocket on /ws/jobs/, past its greeting."""
    url = f"{stack.ws_url}/ws/jobs/"
    if api_key:
        url += f"?api_key={api_key}"
    with connect(url, additional_headers=headers or {}, open_timeout=10) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello"
        yield ws


def events_until_final(ws, job_id: str, timeout: float = 60) -> list[dict]:
    """The `job.updated` events for `job_id`, in arrival order, up to the first final status."""
    deadline = time.monotonic() + timeout
    events = []
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == "job.updated" and message["job"]["id"] == job_id:
            events.append(message["job"])
            if message["job"]["status"] in FINAL:
                return events
    raise AssertionError(f"job {job_id} not final after {timeout}s; saw {[e['status'] for e in events]}")


def drain(ws, seconds: float) -> list[dict]:
    """Every message that arrives within `seconds`."""
    deadline = time.monotonic() + seconds
    messages = []
    try:
        while (left := deadline - time.monotonic()) > 0:
            messages.append(json.loads(ws.recv(timeout=left)))
    except (TimeoutError, ConnectionClosed):
        pass
    return messages


def metric(stack, line_prefix: str) -> float:
    text = httpx.get(f"{stack.base_url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
