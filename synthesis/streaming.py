"""Audio streamed while a job runs: the worker appends each encoded piece to a Redis stream per job as the engine
produces it (Piper: a sentence at a time), and `POST /v1/tts/stream` relays the pieces to the client as they come.

Streamable formats: pcm and ulaw (raw samples), mp3 (frames of each piece's encode, its header frame dropped) and
ogg (one Ogg Opus stream encoded across the pieces: its pages go out as they fill). The stored file is still written
as usual when the job ends (the stream is the same speech, joined without crossfades). The Redis stream
lives `TTS_STREAM_TTL` seconds, so a client that connects a little late still gets everything from the start.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from django.conf import settings

STREAMABLE_FORMATS = ("mp3", "pcm", "ulaw", "ogg")
STREAM_PIECE_BYTES = 64 * 1024
_DATA, _END, _ATTEMPT = b"d", b"end", b"a"


def _key(job_id) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:audio-stream:{job_id}"


def stream_publish(*, job_id, data: bytes, attempt: int = 0) -> None:
    """Append one encoded piece (worker side), tagged with the job's attempt (a retry streams from the start
    again: a listener that has relayed an earlier attempt's audio can tell the repeat)."""
    from django_redis import get_redis_connection

    client = get_redis_connection("default")
    pipe = client.pipeline(transaction=False)
    pipe.xadd(_key(job_id), {_DATA: data, _ATTEMPT: str(attempt).encode()})
    pipe.expire(_key(job_id), settings.TTS_STREAM_TTL)
    pipe.execute()


def stream_finish(*, job_id, status: str) -> None:
    """Mark the end of the stream with the job's final status (worker side)."""
    from django_redis import get_redis_connection

    client = get_redis_connection("default")
    pipe = client.pipeline(transaction=False)
    pipe.xadd(_key(job_id), {_END: status.encode()})
    pipe.expire(_key(job_id), settings.TTS_STREAM_TTL)
    pipe.execute()


def stream_stored(job, *, finish: bool = False) -> None:
    """A streamed job served from stored audio (a cache hit, a coalesced job): its listeners get the whole file as
    the stream (every streamable format's file is also a valid stream from its start); `finish` also marks the end
    (where no worker will)."""
    from django.core.files.storage import default_storage

    with default_storage.open(job.audio.name, "rb") as stored:
        while piece := stored.read(STREAM_PIECE_BYTES):
            stream_publish(job_id=job.id, data=piece)
    if finish:
        stream_finish(job_id=job.id, status=job.status)


@dataclass(frozen=True)
class StreamEnd:
    """The end mark of a job's stream: the job's status when its worker stopped streaming (`succeeded`, `failed`,
    `cancelled`; `queued` when the job goes back for a retry: its stream does not resume)."""

    status: str


async def stream_entries(*, job_id, timeout: float) -> AsyncIterator[bytes | StreamEnd]:
    """The pieces of a job's stream as they arrive, from the start, then its `StreamEnd`; ends without one after
    `timeout` seconds of nothing new (web side, non-blocking for the server: an async Redis client)."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(settings.REDIS_URL)
    last_id, idle_since = "0-0", time.monotonic()
    try:
        while time.monotonic() - idle_since < timeout:
            entries = await client.xread({_key(job_id): last_id}, block=1000, count=64)
            for _stream, messages in entries or []:
                for message_id, fields in messages:
                    last_id, idle_since = message_id, time.monotonic()
                    if _END in fields:
                        yield StreamEnd(fields[_END].decode())
                        return
                    yield fields[_DATA]
    finally:
        await client.aclose()


async def stream_relay(*, job_id, timeout: float) -> AsyncIterator[bytes]:
    """The pieces of a job's stream as they arrive, from the start, until its end mark or `timeout` seconds of
    nothing new."""
    async for entry in stream_entries(job_id=job_id, timeout=timeout):
        if isinstance(entry, StreamEnd):
            return
        yield entry


async def stream_first_entry(*, job_id, timeout: float) -> bytes | StreamEnd | None:
    """The first entry of a job's stream (a piece, or the end mark of a stream without audio) once there is one;
    None after `timeout` seconds without."""
    entries = stream_entries(job_id=job_id, timeout=timeout)
    try:
        async for entry in entries:
            return entry
        return None
    finally:
        await entries.aclose()


async def stream_follow(*, client, job_id, idle: float) -> AsyncIterator[tuple[str, bytes | str | int | None]]:
    """Every entry of a job's stream from the start, as ("data", bytes, attempt) or ("end", status), and ("idle",
    None) after each `idle` seconds with nothing new; runs until the caller stops reading. `client` is an async
    Redis client (web side)."""
    last_id = "0-0"
    while True:
        entries = await client.xread({_key(job_id): last_id}, block=max(1, int(idle * 1000)), count=64)
        if not entries:
            yield ("idle", None, 0)
            continue
        for _stream, messages in entries:
            for message_id, fields in messages:
                last_id = message_id
                if _END in fields:
                    yield ("end", fields[_END].decode(), 0)
                elif _DATA in fields:
                    yield ("data", fields[_DATA], int(fields.get(_ATTEMPT, b"0")))
