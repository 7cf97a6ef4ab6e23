"""`Client` (sync) and `AsyncClient` on httpx: auth, retries, errors, and the streaming calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import httpx

from . import resources as r
from ._base import (
    DEFAULT_TIMEOUT,
    Request,
    RetryPolicy,
    default_headers,
    resolve_config,
)
from .errors import APIConnectionError, error_from_response

JSON = dict[str, Any]
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


def _result(request: Request, response: httpx.Response) -> Any:
    if request.expect == "bytes":
        return response.content
    if request.expect == "none" or not response.content:
        return None
    return response.json()


# ---------------------------------------------------------------------------------------------------------------
# Sync
# ---------------------------------------------------------------------------------------------------------------
class SyncTts(r.Tts[JSON, bytes, None]):
    _client: Client

    def stream(self, text: str, *, idempotency_key: str | None = None, **options: Any) -> Iterator[bytes]:
        """POST /v1/tts/stream: the audio's bytes as the server makes them (mp3, pcm, ulaw or ogg). The request
        is sent when iteration starts; an error before the first byte raises `APIError` from the first `next`."""
        request = Request(
            "POST", "/v1/tts/stream", json=r.tts_body(text, **options), headers=r.idempotency_headers(idempotency_key)
        )
        return self._client._stream(request)

    def wait(self, job_id: str, *, timeout: float = 300, interval: float = 0.5) -> JSON:
        """The job once it is final (succeeded, failed or cancelled), polled every `interval` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.retrieve(job_id)
            if job["status"] in FINAL_STATUSES:
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout} s")
            time.sleep(interval)

    def synthesize(self, text: str, *, timeout: float = 300, **options: Any) -> tuple[JSON, bytes]:
        """Create a job, wait for it, and return (job, audio). A failed job raises `APIError` with its error."""
        job = self.create(text, wait=True, **options)
        if job["status"] not in FINAL_STATUSES:
            job = self.wait(job["id"], timeout=timeout)
        _raise_for_job(job)
        return job, self.audio(job["id"])


class SyncAudio(r.Audio[JSON, bytes, None]):
    _client: Client

    def speech_stream(self, input: str, *, idempotency_key: str | None = None, **options: Any) -> Iterator[bytes]:
        request = Request(
            "POST",
            "/v1/audio/speech",
            json=r.speech_body(input, **options),
            headers=r.idempotency_headers(idempotency_key),
        )
        return self._client._stream(request)


class Client:
    """The ODIADEV-TTS API. `Client(api_key=..., base_url=...)`, or from ODIADEV_API_KEY / ODIADEV_BASE_URL.

    Use as a context manager (or call `close()`) to release its connections."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.api_key, self.base_url = resolve_config(api_key, base_url)
        self.retry = retry or RetryPolicy(max_retries=max_retries)
        self._http = http_client or httpx.Client(timeout=timeout)
        self._headers = default_headers(self.api_key)
        self.tts = SyncTts(self)
        self.audio = SyncAudio(self)
        self.voices = r.Voices[JSON, bytes, None](self)
        self.pronunciations = r.Pronunciations[JSON, bytes, None](self)
        self.webhooks = r.Webhooks[JSON, bytes, None](self)
        self.account = r.Account[JSON, bytes, None](self)
        self.usage = r.Usage[JSON, bytes, None](self)
        self.billing = r.Billing[JSON, bytes, None](self)
        self.provenance = r.Provenance[JSON, bytes, None](self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def events(self, *, open_timeout: float = 10) -> Any:
        """A websocket on /ws/jobs/ (a `JobSocket`): live job/voice events and streamed audio."""
        from .realtime import JobSocket

        return JobSocket.connect(self.base_url, self.api_key, open_timeout=open_timeout)

    def stream_input(self, texts: Any, **options: Any) -> Any:
        """Text-in streaming on /ws/tts/: send `texts` (an iterable of str, e.g. an LLM's tokens) as they come and
        iterate the events: `audio` (bytes per sentence), `alignment`, then `done` (odiadev_sdk.live)."""
        from .live import stream_input

        return stream_input(self.base_url, self.api_key, texts, **options)

    # -- transport ------------------------------------------------------------------------------------------
    def _build(self, request: Request) -> httpx.Request:
        kwargs = request.httpx_kwargs()
        kwargs["headers"] = {**self._headers, **request.headers}
        return self._http.build_request(request.method, self.base_url + request.path, **kwargs)

    def _send(self, request: Request, *, stream: bool = False) -> httpx.Response:
        """The first answer that is not retried; an error answer raises `APIError` (its body read)."""
        attempt = 0
        while True:
            try:
                response = self._http.send(self._build(request), stream=stream)
            except httpx.TransportError as exc:
                delay = self.retry.delay_for_error(attempt, idempotent=request.idempotent)
                if delay is None:
                    raise APIConnectionError(f"{request.method} {request.path}: {exc}") from exc
            else:
                delay = self.retry.delay_for_status(response, attempt, idempotent=request.idempotent)
                if delay is None:
                    if response.is_error:
                        response.read()
                        response.close()
                        raise error_from_response(response)
                    return response
                response.close()
            time.sleep(delay)
            attempt += 1

    def _json(self, request: Request) -> JSON:
        return _result(request, self._send(request))  # type: ignore[no-any-return]

    def _bytes(self, request: Request) -> bytes:
        return self._send(request).content

    def _none(self, request: Request) -> None:
        self._send(request)

    def _stream(self, request: Request) -> Iterator[bytes]:
        response = self._send(request, stream=True)
        try:
            yield from response.iter_bytes()
        finally:
            response.close()


# ---------------------------------------------------------------------------------------------------------------
# Async
# ---------------------------------------------------------------------------------------------------------------
class AsyncTts(r.Tts[Awaitable[JSON], Awaitable[bytes], Awaitable[None]]):
    _client: AsyncClient

    def stream(self, text: str, *, idempotency_key: str | None = None, **options: Any) -> AsyncIterator[bytes]:
        """POST /v1/tts/stream, iterated with `async for`."""
        request = Request(
            "POST", "/v1/tts/stream", json=r.tts_body(text, **options), headers=r.idempotency_headers(idempotency_key)
        )
        return self._client._stream(request)

    async def wait(self, job_id: str, *, timeout: float = 300, interval: float = 0.5) -> JSON:
        deadline = time.monotonic() + timeout
        while True:
            job = await self.retrieve(job_id)
            if job["status"] in FINAL_STATUSES:
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout} s")
            await asyncio.sleep(interval)

    async def synthesize(self, text: str, *, timeout: float = 300, **options: Any) -> tuple[JSON, bytes]:
        job = await self.create(text, wait=True, **options)
        if job["status"] not in FINAL_STATUSES:
            job = await self.wait(job["id"], timeout=timeout)
        _raise_for_job(job)
        return job, await self.audio(job["id"])


class AsyncAudio(r.Audio[Awaitable[JSON], Awaitable[bytes], Awaitable[None]]):
    _client: AsyncClient

    def speech_stream(self, input: str, *, idempotency_key: str | None = None, **options: Any) -> AsyncIterator[bytes]:
        request = Request(
            "POST",
            "/v1/audio/speech",
            json=r.speech_body(input, **options),
            headers=r.idempotency_headers(idempotency_key),
        )
        return self._client._stream(request)


class AsyncClient:
    """`Client` for asyncio: the same resources, each method a coroutine; streams are async iterators."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.api_key, self.base_url = resolve_config(api_key, base_url)
        self.retry = retry or RetryPolicy(max_retries=max_retries)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._headers = default_headers(self.api_key)
        self.tts = AsyncTts(self)
        self.audio = AsyncAudio(self)
        self.voices = r.Voices[Awaitable[JSON], Awaitable[bytes], Awaitable[None]](self)
        self.pronunciations = r.Pronunciations[Awaitable[JSON], Awaitable[bytes], Awaitable[None]](self)
        self.webhooks = r.Webhooks[Awaitable[JSON], Awaitable[bytes], Awaitable[None]](self)
        self.account = r.Account[Awaitable[JSON], Awaitable[bytes], Awaitable[None]](self)
        self.usage = r.Usage[Awaitable[JSON], Awaitable[bytes], Awaitable[None]](self)
        self.billing = r.Billing[Awaitable[JSON], Awaitable[bytes], Awaitable[None]](self)
        self.provenance = r.Provenance[Awaitable[JSON], Awaitable[bytes], Awaitable[None]](self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    def events(self, *, open_timeout: float = 10) -> Any:
        """`async with client.events() as socket:` an `AsyncJobSocket` on /ws/jobs/."""
        from .realtime import AsyncJobSocket

        return AsyncJobSocket(self.base_url, self.api_key, open_timeout=open_timeout)

    def _build(self, request: Request) -> httpx.Request:
        kwargs = request.httpx_kwargs()
        kwargs["headers"] = {**self._headers, **request.headers}
        return self._http.build_request(request.method, self.base_url + request.path, **kwargs)

    async def _send(self, request: Request, *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.send(self._build(request), stream=stream)
            except httpx.TransportError as exc:
                delay = self.retry.delay_for_error(attempt, idempotent=request.idempotent)
                if delay is None:
                    raise APIConnectionError(f"{request.method} {request.path}: {exc}") from exc
            else:
                delay = self.retry.delay_for_status(response, attempt, idempotent=request.idempotent)
                if delay is None:
                    if response.is_error:
                        await response.aread()
                        await response.aclose()
                        raise error_from_response(response)
                    return response
                await response.aclose()
            await asyncio.sleep(delay)
            attempt += 1

    async def _json(self, request: Request) -> JSON:
        return _result(request, await self._send(request))  # type: ignore[no-any-return]

    async def _bytes(self, request: Request) -> bytes:
        return (await self._send(request)).content

    async def _none(self, request: Request) -> None:
        await self._send(request)

    async def _stream(self, request: Request) -> AsyncIterator[bytes]:
        response = await self._send(request, stream=True)
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        finally:
            await response.aclose()


def _raise_for_job(job: JSON) -> None:
    from .errors import APIError

    if job["status"] != "succeeded":
        error = job.get("error") or {}
        raise APIError(
            status=200,
            code=error.get("code") or f"job_{job['status']}",
            message=error.get("message") or f"The job ended {job['status']}.",
            detail={"job_id": job["id"]},
        )
