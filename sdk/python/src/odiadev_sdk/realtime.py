"""The event socket `/ws/jobs/`: `job.updated` / `voice.updated` events for the key's account, and a streamed
job's audio as binary frames after `{"type": "audio.subscribe", "job_id": ...}` (then `audio.end`).

Submit jobs after opening the socket: events are live, not replayed. Events that arrive while `audio()` is reading
frames are kept and returned by the next `recv_event()`, so none is lost."""

from __future__ import annotations

import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from ._base import USER_AGENT, ws_url
from .errors import APIConnectionError, APIError, error_from_body

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
Event = dict[str, Any]


def _status_for_close(code: int | None) -> int:
    """The HTTP status an application close code mirrors (4401 -> 401), else 0."""
    return code - 4000 if code is not None and 4100 <= code < 4600 else 0


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}


def _error(event: Event, close_code: int | None = None) -> APIError:
    return error_from_body(_status_for_close(close_code), {"error": event.get("error")})


def _decode(message: str | bytes) -> Event | bytes:
    return message if isinstance(message, bytes) else json.loads(message)


def _audio_subscribe(job_id: str) -> str:
    return json.dumps({"type": "audio.subscribe", "job_id": str(job_id)})


class JobSocket:
    """A sync socket: `with client.events() as socket:`. Raises `APIError` if the server refuses it."""

    def __init__(self, ws: ClientConnection, hello: Event) -> None:
        self._ws = ws
        self.hello = hello
        self._pending: deque[Event] = deque()

    @classmethod
    def connect(cls, base_url: str, api_key: str, *, open_timeout: float = 10) -> JobSocket:
        try:
            # Entered at once: websockets >= 15 warns about a connection that is used without being entered.
            ws = connect(ws_url(base_url), additional_headers=_headers(api_key), open_timeout=open_timeout).__enter__()
        except (OSError, TimeoutError) as exc:
            raise APIConnectionError(f"websocket {ws_url(base_url)}: {exc}") from exc
        first = _decode(ws.recv(timeout=open_timeout))
        if isinstance(first, dict) and first.get("type") == "hello":
            return cls(ws, first)
        with contextlib.suppress(ConnectionClosed, TimeoutError):  # the close that follows the error names its code
            ws.recv(timeout=open_timeout)
        ws.close()
        raise _error(first if isinstance(first, dict) else {}, ws.close_code)

    def __enter__(self) -> JobSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._ws.close()

    def _recv(self, timeout: float | None) -> Event | bytes:
        try:
            return _decode(self._ws.recv(timeout=timeout))
        except ConnectionClosed as exc:
            raise APIConnectionError(f"websocket closed ({exc.rcvd.code if exc.rcvd else 'no code'})") from exc

    def recv_event(self, timeout: float | None = None) -> Event:
        """The next JSON event (binary frames outside `audio()` are skipped). Raises TimeoutError."""
        if self._pending:
            return self._pending.popleft()
        while True:
            message = self._recv(timeout)
            if isinstance(message, dict):
                return message

    def __iter__(self) -> Iterator[Event]:
        while True:
            yield self.recv_event()

    def ping(self, timeout: float = 10) -> None:
        """An application ping (`pong` back); other events that arrive meanwhile are kept."""
        self._ws.send(json.dumps({"type": "ping"}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._recv(max(0.01, deadline - time.monotonic()))
            if isinstance(message, dict):
                if message.get("type") == "pong":
                    return
                self._pending.append(message)

    def wait_for_job(self, job_id: str, *, timeout: float = 300) -> Event:
        """The job of the first `job.updated` event for `job_id` with a final status."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.recv_event(timeout=max(0.01, deadline - time.monotonic()))
            job = event.get("job") or {}
            if event.get("type") == "job.updated" and job.get("id") == str(job_id) and job["status"] in FINAL_STATUSES:
                return job

    def audio(self, job_id: str, *, timeout: float = 60) -> Iterator[bytes]:
        """`audio.subscribe` to a job created with `stream: true`; yields its audio frames until `audio.end`.
        A job answered from the cache (`cached: true`, already succeeded) has no stream: read `tts.audio`. An
        `error` answer (`job_not_streamed`, `not_found`, `stream_busy`) raises `APIError`. `timeout` bounds the
        wait for each frame."""
        self._ws.send(_audio_subscribe(job_id))
        while True:
            message = self._recv(timeout)
            if isinstance(message, bytes):
                yield message
            elif message.get("type") == "audio.end" and message.get("job_id") == str(job_id):
                return
            elif message.get("type") == "error":
                raise _error(message)
            else:
                self._pending.append(message)


class AsyncJobSocket:
    """An asyncio socket: `async with client.events() as socket:`."""

    def __init__(self, base_url: str, api_key: str, *, open_timeout: float = 10) -> None:
        self._url = ws_url(base_url)
        self._api_key = api_key
        self._open_timeout = open_timeout
        self._ws: AsyncConnection | None = None
        self._pending: deque[Event] = deque()
        self.hello: Event = {}

    async def __aenter__(self) -> AsyncJobSocket:
        import asyncio

        try:
            ws = await async_connect(
                self._url, additional_headers=_headers(self._api_key), open_timeout=self._open_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise APIConnectionError(f"websocket {self._url}: {exc}") from exc
        first = _decode(await asyncio.wait_for(ws.recv(), self._open_timeout))
        if isinstance(first, dict) and first.get("type") == "hello":
            self._ws, self.hello = ws, first
            return self
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            await asyncio.wait_for(ws.recv(), self._open_timeout)
        await ws.close()
        raise _error(first if isinstance(first, dict) else {}, ws.close_code)

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def _recv(self, timeout: float | None) -> Event | bytes:
        import asyncio

        assert self._ws is not None, "use `async with client.events() as socket`"  # noqa: S101
        try:
            return _decode(await asyncio.wait_for(self._ws.recv(), timeout))
        except ConnectionClosed as exc:
            raise APIConnectionError(f"websocket closed ({exc.rcvd.code if exc.rcvd else 'no code'})") from exc

    async def recv_event(self, timeout: float | None = None) -> Event:
        if self._pending:
            return self._pending.popleft()
        while True:
            message = await self._recv(timeout)
            if isinstance(message, dict):
                return message

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        while True:
            yield await self.recv_event()

    async def wait_for_job(self, job_id: str, *, timeout: float = 300) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            event = await self.recv_event(timeout=max(0.01, deadline - time.monotonic()))
            job = event.get("job") or {}
            if event.get("type") == "job.updated" and job.get("id") == str(job_id) and job["status"] in FINAL_STATUSES:
                return job

    async def audio(self, job_id: str, *, timeout: float = 60) -> AsyncIterator[bytes]:
        assert self._ws is not None, "use `async with client.events() as socket`"  # noqa: S101
        await self._ws.send(_audio_subscribe(job_id))
        while True:
            message = await self._recv(timeout)
            if isinstance(message, bytes):
                yield message
            elif message.get("type") == "audio.end" and message.get("job_id") == str(job_id):
                return
            elif message.get("type") == "error":
                raise _error(message)
            else:
                self._pending.append(message)
