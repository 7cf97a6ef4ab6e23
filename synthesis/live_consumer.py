"""The text-in streaming socket (ws/tts/): JSON messages in; JSON messages and binary audio frames out.

Authenticated as ws/jobs/ is (AuthenticatedSocket). Thin: messages are checked here and handed to the socket's
contexts (synthesis.live_contexts), which hold the logic. The protocol is in docs/realtime.md.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from accounts.models import ApiKey
from core.api import validated_data
from core.exceptions import ApplicationError
from core.fields import StrictCharField
from core.parsers import JSON_MAX_DEPTH

from .apis import _FIELD_ERRORS, TtsApi, not_streamable
from .consumers import _UNREADABLE, AuthenticatedSocket
from .errors import LiveContextExists, LiveContextNotFound, LiveInvalidMessage, LiveTooManyContexts
from .live import live_job_open
from .live_contexts import LiveContext, context_error
from .streaming import STREAMABLE_FORMATS

logger = logging.getLogger(__name__)

CONTEXT_ID_MAX = 64


class ContextOpenSerializer(TtsApi.InputSerializer):
    """`context.open`: POST /v1/tts's options (same checks, same error codes), without the text (it follows in
    `text` messages) and without `wait`/`stream` (a context always streams). Format default: pcm."""

    text = None
    wait = None
    stream = None
    format = StrictCharField(required=False, default="pcm", max_length=16)

    class Meta:
        ref_name = "TtsContextOpen"


class LiveTtsConsumer(AuthenticatedSocket):
    """Several contexts per socket, each its own live job, told apart by `context_id` on every message."""

    async def opened(self) -> None:
        import redis.asyncio as aioredis

        self.contexts: dict[str, LiveContext] = {}
        self._send_lock = asyncio.Lock()
        self._redis = aioredis.from_url(settings.REDIS_URL)
        await self.send_json({"type": "hello", "user": str(self.scope["user"].public_id)})

    async def stop_work(self) -> None:
        """The client left (or its credentials went): its contexts are interrupted, as `cancel` does."""
        for context in list(getattr(self, "contexts", {}).values()):
            try:
                await context.cancel(quiet=True)
            except Exception:  # the sweeper closes an abandoned live job
                logger.warning("could not cancel live job %s", context.job.pk, exc_info=True)
        if getattr(self, "_redis", None) is not None:
            await self._redis.aclose()
            self._redis = None

    async def send_audio(self, header: dict, data: bytes) -> None:
        """The `audio` header and its binary frame, with no other context's frame between them; shielded, so that
        a context cancelled meanwhile never leaves a header without its frame."""
        await asyncio.shield(self._send_pair(header, data))

    async def _send_pair(self, header: dict, data: bytes) -> None:
        async with self._send_lock:
            await self.send_json(header)
            await self.send(bytes_data=data)

    async def send_message(self, message: dict) -> None:
        async with self._send_lock:
            await self.send_json(message)

    async def receive_json(self, content, **kwargs) -> None:
        if getattr(self, "ended", False) or not hasattr(self, "contexts"):
            return
        if content is _UNREADABLE:
            await self.send_message(
                {
                    "type": "error",
                    "context_id": None,
                    "code": "malformed_json",
                    "message": f"Send JSON objects nested at most {JSON_MAX_DEPTH} levels.",
                }
            )
            return
        context_id = content.get("context_id") if isinstance(content, dict) else None
        try:
            await self._handle(content, context_id)
        except ApplicationError as exc:
            await self.send_message(context_error(context_id if isinstance(context_id, str) else None, exc))

    async def _handle(self, content, context_id) -> None:
        if not isinstance(content, dict):
            raise LiveInvalidMessage()
        kind = content.get("type")
        if kind == "ping":
            await self.send_message({"type": "pong"})
            return
        if not isinstance(context_id, str) or not 0 < len(context_id) <= CONTEXT_ID_MAX:
            raise LiveInvalidMessage(f"`context_id` must be a string of 1 to {CONTEXT_ID_MAX} characters.")
        if kind == "context.open":
            await self._open(context_id, content)
            return
        context = self.contexts.get(context_id)
        if context is None:
            raise LiveContextNotFound(detail={"context_id": context_id})
        if kind == "text":
            text = content.get("text")
            if not isinstance(text, str):
                raise LiveInvalidMessage("`text` must be a string.")
            await context.text(text)
        elif kind == "flush":
            await context.flush()
        elif kind == "close":
            await context.close()
        elif kind == "cancel":
            await context.cancel()
        else:
            raise LiveInvalidMessage('`type` is one of "context.open", "text", "flush", "close", "cancel", "ping".')

    async def _open(self, context_id: str, content: dict) -> None:
        if context_id in self.contexts:
            raise LiveContextExists(detail={"context_id": context_id})
        if len(self.contexts) >= settings.TTS_WS_MAX_CONTEXTS:
            raise LiveTooManyContexts(detail={"max_contexts": settings.TTS_WS_MAX_CONTEXTS})
        options = {k: v for k, v in content.items() if k not in ("type", "context_id")}
        data = validated_data(options, ContextOpenSerializer, field_errors=_FIELD_ERRORS, message=None)
        output_format = data["format"].lower()
        if output_format not in STREAMABLE_FORMATS:
            raise not_streamable(output_format)
        api_key = self.scope.get("api_key")
        job = await database_sync_to_async(live_job_open)(
            user=self.scope["user"],
            api_key=api_key if isinstance(api_key, ApiKey) else None,
            voice_id=data.get("voice_id") or settings.DEFAULT_VOICE_ID,
            output_format=output_format,
            sample_rate=data["sample_rate"],
            bitrate=data["bitrate"],
            speed=data["speed"],
            seed=data["seed"],
            timestamps=data["timestamps"],
        )
        self.contexts[context_id] = LiveContext(
            context_id=context_id,
            job=job,
            normalize=data["normalize"],
            send_json=self.send_message,
            send_audio=self.send_audio,
            redis=self._redis,
            on_end=lambda context: self.contexts.pop(context.context_id, None),
        )
        await self.send_message(
            {
                "type": "context.opened",
                "context_id": context_id,
                "job_id": str(job.pk),
                "format": job.output_format,
                "sample_rate": job.sample_rate,
            }
        )

    # The owner's group (joined for `account_blocked`) also carries job events: not this socket's business.
    async def job_updated(self, event: dict) -> None:
        pass

    async def voice_updated(self, event: dict) -> None:
        pass
