"""Text-in streaming (`/ws/tts/`, the server's docs/realtime.md): send text as it is written (an LLM's tokens) and
get audio back a sentence at a time, while you are still sending.

    with Client() as client:
        for event in client.stream_input(llm_tokens(), voice_id="joe", format="pcm"):
            if event["type"] == "audio":
                play(event["data"])

The texts are sent from a background thread as the iterable yields them (then `close`), so audio arrives while
it is still producing. Events, in order: `context.opened`, then per sentence `audio` (`piece`, `data`: bytes; one
or more) and `alignment` (`piece`, `text`, `start`, `end` in seconds), a sentence's `error` if one fails, and last
`done` (`job_id`, `reason`, `characters`, `pieces`). A refused socket or context raises `APIError`. Stop iterating
early and the context is interrupted (as `cancel`: sentences not yet made are not billed)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ._base import ws_url
from .errors import APIConnectionError, error_from_body
from .realtime import _error, _headers

Event = dict[str, Any]


def _context_error(message: Event) -> Exception:
    return error_from_body(0, {"error": {k: message.get(k) for k in ("code", "message", "detail")}})


def stream_input(
    base_url: str,
    api_key: str,
    texts: Iterable[str],
    *,
    voice_id: str | None = None,
    format: str = "pcm",
    context_id: str = "c1",
    open_timeout: float = 10,
    timeout: float = 60,
    **options: Any,
) -> Iterator[Event]:
    """The events of one context fed by `texts` (see the module). `options`: `sample_rate`, `speed`, `seed`,
    `bitrate`, `normalize`, as for `tts.create`. `timeout` bounds the wait for each message."""
    url = ws_url(base_url, "/ws/tts/")
    try:
        ws = connect(url, additional_headers=_headers(api_key), open_timeout=open_timeout, max_size=None).__enter__()
    except (OSError, TimeoutError) as exc:
        raise APIConnectionError(f"websocket {url}: {exc}") from exc
    sender: threading.Thread | None = None
    try:
        hello = json.loads(ws.recv(timeout=open_timeout))
        if hello.get("type") != "hello":
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                ws.recv(timeout=open_timeout)
            raise _error(hello, ws.close_code)
        opening = {"type": "context.open", "context_id": context_id, "format": format, **options}
        if voice_id is not None:
            opening["voice_id"] = voice_id
        ws.send(json.dumps(opening))
        opened = json.loads(ws.recv(timeout=open_timeout))
        if opened.get("type") != "context.opened":
            raise _context_error(opened)
        yield opened
        sender = threading.Thread(target=_send_all, args=(ws, context_id, texts), daemon=True)
        sender.start()
        header: Event | None = None
        while True:
            try:
                frame = ws.recv(timeout=timeout)
            except ConnectionClosed as exc:
                raise APIConnectionError(f"websocket closed ({exc.rcvd.code if exc.rcvd else 'no code'})") from exc
            if isinstance(frame, bytes):
                yield {
                    "type": "audio",
                    "context_id": context_id,
                    "piece": header["piece"] if header else -1,
                    "data": frame,
                }
                header = None
                continue
            message = json.loads(frame)
            if message.get("context_id") not in (context_id, None):
                continue
            if message["type"] == "audio":
                header = message
            elif message["type"] in ("alignment", "error"):
                yield message
            elif message["type"] == "done":
                yield message
                return
    finally:
        ws.close()  # (before `done`, this interrupts the context)
        if sender is not None:
            sender.join(timeout=5)


def _send_all(ws, context_id: str, texts: Iterable[str]) -> None:
    try:
        for text in texts:
            if text:
                ws.send(json.dumps({"type": "text", "context_id": context_id, "text": text}))
        ws.send(json.dumps({"type": "close", "context_id": context_id}))
    except ConnectionClosed:
        return
    except Exception:
        with contextlib.suppress(ConnectionClosed):  # the texts' source failed: stop rather than speak half
            ws.send(json.dumps({"type": "cancel", "context_id": context_id}))
        raise
