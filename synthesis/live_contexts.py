"""The contexts of one /ws/tts/ socket (web side, async): text in, complete sentences out to the workers as pieces
of the context's live job (synthesis.live), their audio back to the client in order as each is made.

Each context runs two tasks on the server's event loop: a deliverer, which takes the pieces in order and relays
each one's audio from its Redis stream (the worker appends it as the engine makes it: synthesis.streaming) followed
by its alignment; and an idle watch. Database work runs in threads (`database_sync_to_async`); nothing here blocks
the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.conf import settings

from core.exceptions import ApplicationError
from textnorm.sentences import sentences_cut

from .errors import LiveBufferFull, LiveContextClosed, SpokenTextTooLong, TextEmpty
from .live import (
    live_job_cancel,
    live_job_close,
    live_piece_audio_read,
    live_piece_state,
    live_piece_submit,
)
from .models import SynthesisJob
from .streaming import stream_follow

logger = logging.getLogger(__name__)

SendJson = Callable[[dict], Awaitable[None]]
SendAudio = Callable[[dict, bytes], Awaitable[None]]
_STREAM_IDLE = 1.0  # seconds of a quiet piece stream between looks at the piece's row


def context_error(context_id: str, exc: ApplicationError, **extra) -> dict:
    message = {"type": "error", "context_id": context_id, "code": exc.code, "message": exc.message}
    if exc.detail is not None:
        message["detail"] = exc.detail
    return {**message, **extra}


class LiveContext:
    """One context: its buffer, its pieces in order, and its end (`done`, sent once)."""

    def __init__(
        self,
        *,
        context_id: str,
        job: SynthesisJob,
        normalize: bool,
        send_json: SendJson,
        send_audio: SendAudio,
        redis,
        on_end: Callable[[LiveContext], None],
    ) -> None:
        self.context_id, self.job, self.normalize = context_id, job, normalize
        self._send_json, self._send_audio, self._redis, self._on_end = send_json, send_audio, redis, on_end
        self.buffer = ""
        self.next_piece = 0
        self.unspoken = 0  # characters submitted and not yet delivered
        self.state = "open"  # open -> ending (no more text; delivering what was submitted) -> ended
        self.reason = "closed"
        self.timeline = 0.0  # seconds of audio delivered so far
        self._last_activity = time.monotonic()
        self._pieces: asyncio.Queue = asyncio.Queue()
        self._deliverer = asyncio.create_task(self._deliver())
        self._watcher = asyncio.create_task(self._watch_idle())

    # -- client messages -------------------------------------------------------------------------------------
    async def text(self, text: str) -> None:
        self._last_activity = time.monotonic()
        if self.state != "open":
            raise LiveContextClosed()
        if self.unspoken + len(self.buffer) + len(text) > settings.TTS_WS_MAX_BUFFER_CHARS:
            unspoken = self.unspoken + len(self.buffer)
            raise LiveBufferFull(detail={"max_characters": settings.TTS_WS_MAX_BUFFER_CHARS, "unspoken": unspoken})
        self.buffer += text
        await self._cut(flush=False)

    async def flush(self) -> None:
        self._last_activity = time.monotonic()
        if self.state != "open":
            raise LiveContextClosed()
        await self._cut(flush=True)

    async def close(self) -> None:
        """Speak what is buffered, deliver every piece, then `done`."""
        self._last_activity = time.monotonic()
        if self.state != "open":
            return
        await self._cut(flush=True)
        self._end_input("closed")

    async def cancel(self, *, quiet: bool = False) -> None:
        """Stop now: nothing more is sent or synthesized; pieces not yet made are cancelled (and not billed)."""
        if self.state == "ended":
            return
        self.state = "ended"
        self._deliverer.cancel()
        self._watcher.cancel()
        spoken = await database_sync_to_async(live_job_cancel)(job_id=self.job.pk)
        self._on_end(self)
        if not quiet:
            await self._done("cancelled", spoken)

    # -- inside ------------------------------------------------------------------------------------------------
    async def _cut(self, *, flush: bool) -> None:
        pieces, self.buffer = sentences_cut(self.buffer, max_chars=settings.TTS_SEGMENT_CHARS, flush=flush)
        for text in pieces:
            try:
                piece = await database_sync_to_async(live_piece_submit)(
                    job=self.job, piece=self.next_piece, text=text, normalize=self.normalize
                )
            except (TextEmpty, SpokenTextTooLong) as exc:  # this sentence only ("..."): say so and go on
                await self._send_json(context_error(self.context_id, exc, text=text))
                continue
            except ApplicationError as exc:  # quota, maintenance, engine off...: the context says what it has
                await self._send_json(context_error(self.context_id, exc))
                self.buffer = ""
                self._end_input("error")
                return
            self.next_piece += 1
            self.unspoken += len(text)
            self._pieces.put_nowait((piece.piece, piece.pk, len(text)))

    def _end_input(self, reason: str) -> None:
        if self.state == "open":
            self.state, self.reason = "ending", reason
            self._pieces.put_nowait(None)

    async def _watch_idle(self) -> None:
        idle = settings.TTS_WS_CONTEXT_IDLE_SECONDS
        while self.state == "open":
            await asyncio.sleep(min(1.0, idle / 4))
            if self.state == "open" and time.monotonic() - self._last_activity > idle:
                # What was sent as complete sentences is still spoken; the unfinished rest is dropped.
                self.buffer = ""
                self._end_input("idle_timeout")

    async def _deliver(self) -> None:
        try:
            while (item := await self._pieces.get()) is not None:
                await self._deliver_piece(*item)
            spoken = await database_sync_to_async(live_job_close)(job_id=self.job.pk)
            reason = self.reason
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("live job %s: delivery failed; cancelling the rest", self.job.pk)
            await self._send_json(
                {
                    "type": "error",
                    "context_id": self.context_id,
                    "code": "service_unavailable",
                    "message": "The audio of this context could not be delivered; it ends with what was spoken.",
                }
            )
            spoken = await database_sync_to_async(live_job_cancel)(job_id=self.job.pk)
            reason = "error"
        self.state = "ended"
        self._watcher.cancel()
        self._on_end(self)
        await self._done(reason, spoken)

    async def _done(self, reason: str, spoken: dict) -> None:
        await self._send_json(
            {
                "type": "done",
                "context_id": self.context_id,
                "job_id": str(self.job.pk),
                "reason": reason,
                "characters": spoken["characters"],
                "pieces": spoken["pieces"],
            }
        )

    async def _deliver_piece(self, number: int, piece_id, characters: int) -> None:
        """Relay one piece's audio as the worker streams it, then its alignment (or its error)."""
        sent = await self._relay(number, piece_id)
        state = await database_sync_to_async(live_piece_state)(job_id=piece_id)
        self.unspoken -= characters
        if state is None:
            return
        if state["status"] != "succeeded":
            code = state["error_code"] or f"piece_{state['status']}"
            await self._send_json(
                {
                    "type": "error",
                    "context_id": self.context_id,
                    "code": code,
                    "message": state["error_message"] or f"This piece was {state['status']}.",
                    "piece": number,
                }
            )
            return
        if not sent and state["audio"]:  # its stream was lost (Redis restarted): its stored file instead
            data = await database_sync_to_async(live_piece_audio_read)(name=state["audio"])
            await self._send_audio(self._audio_header(number, len(data)), data)
        start = self.timeline
        self.timeline += state["duration"]
        alignment = {
            "type": "alignment",
            "context_id": self.context_id,
            "piece": number,
            "text": state["text"],
            "start": round(start, 4),
            "end": round(self.timeline, 4),
        }
        if state["words"]:
            alignment["words"] = [
                {**word, "start": round(word["start"] + start, 4), "end": round(word["end"] + start, 4)}
                for word in state["words"]
            ]
        await self._send_json(alignment)

    def _audio_header(self, number: int, size: int) -> dict:
        return {"type": "audio", "context_id": self.context_id, "piece": number, "bytes": size}

    async def _relay(self, number: int, piece_id) -> int:
        """Send the piece's stream as it arrives; returns the bytes sent. A retried piece streams from its start
        again: only the first attempt seen is relayed (its repeat would double the audio)."""
        relayed_attempt, sent, final_seen = None, 0, False
        deadline = time.monotonic() + settings.TTS_JOB_TIME_LIMIT * settings.TTS_JOB_MAX_ATTEMPTS + 120
        entries = stream_follow(client=self._redis, job_id=piece_id, idle=_STREAM_IDLE)
        async with contextlib.aclosing(entries):
            async for kind, value, attempt in entries:
                if kind == "data":
                    relayed_attempt = attempt if relayed_attempt is None else relayed_attempt
                    if attempt == relayed_attempt:
                        await self._send_audio(self._audio_header(number, len(value)), value)
                        sent += len(value)
                elif kind == "end":
                    if value in ("succeeded", "failed", "cancelled", "gone"):
                        break
                    # (an attempt that will be retried ended its stream: the retry streams next)
                else:
                    # Quiet: the piece may be final without an end mark (cancelled while queued; the mark lost).
                    # One more quiet period after seeing it final, so that nothing written just before is missed.
                    if final_seen or time.monotonic() > deadline:
                        break
                    state = await database_sync_to_async(live_piece_state)(job_id=piece_id)
                    final_seen = state is None or state["final"]
        return sent
