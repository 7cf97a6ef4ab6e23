"""The user's event socket (ws/jobs/): live `job.updated` / `voice.updated` events and streamed audio."""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.errors import AccountBlocked, AuthenticationFailed
from accounts.websocket_auth import api_key_is_live
from billing.throttling import request_limits
from controls.ratelimit import ratelimit_hit
from core.clientip import client_ip_from_scope
from core.events import api_key_group, user_group
from core.exceptions import ServiceUnavailable, error_body, is_backend_outage
from core.parsers import JSON_MAX_DEPTH, json_document_parse

from .errors import StreamBusy
from .models import SynthesisJob
from .streaming import stream_relay

logger = logging.getLogger(__name__)

# Application close codes (4000-4999): 4401, 4403, 4429 and 4503 mirror HTTP 401, 403, 429 and 503 (4401 also: the
# API key the socket was opened with was revoked; 4403: the account was blocked; 4503: Redis, which rate limits and
# the channel layer need, is out of reach; try again later). Daphne's websocket library lets a
# server send only 1000 or 3000-4999, so not RFC 6455's 1013.
_UNREADABLE = object()  # a text message that is not a JSON document we read
CLOSE_UNAUTHENTICATED = 4401
CLOSE_ACCOUNT_BLOCKED = 4403
CLOSE_RATE_LIMITED = 4429
CLOSE_SERVICE_UNAVAILABLE = 4503
_UNAUTHENTICATED = (AuthenticationFailed.code, "Send a valid API key (?api_key= or Authorization) or log in.")
_KEY_REVOKED = (AuthenticationFailed.code, "The API key this socket was opened with has been revoked.")


def _base_url(scope) -> str:
    host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    return f"{scheme}://{host}" if host else ""


class AuthenticatedSocket(AsyncJsonWebsocketConsumer):
    """What every socket of ours does the same: the connect checks (rate limits, credentials, Redis reachable, each
    refused with its close code), membership of the owner's and the API key's groups, and the end of the socket
    when the account is blocked or the key revoked. Subclasses greet in `opened` and stop their own work in
    `stop_work`."""

    async def connect(self) -> None:
        try:
            await self._connect()
        except Exception as exc:
            if not is_backend_outage(exc):
                raise
            # Accept, explain, close (as below): never a half-open socket that would miss its events, never a 500.
            logger.warning("websocket refused: Redis unavailable (%s)", exc)
            unavailable = ServiceUnavailable()
            detail = {"retry_after": unavailable.retry_after}
            await self.accept()
            await self.send_json(
                {"type": "error", "error": error_body(unavailable.code, unavailable.message, detail)["error"]}
            )
            await self.close(code=CLOSE_SERVICE_UNAVAILABLE)
            # End the consumer now: its channel-layer read fails too while Redis is away, and a consumer that dies
            # of that makes Daphne close with 1011 instead.
            raise StopConsumer() from exc

    async def _connect(self) -> None:
        user = self.scope.get("user")
        verdict = await database_sync_to_async(_connect_verdict)(self.scope)
        if not verdict.allowed:
            await self.accept()
            await self.send_json({"type": "error", "error": verdict.body()["error"]})
            await self.close(code=CLOSE_RATE_LIMITED)
            return
        if user is None or not user.is_authenticated:
            # Accept, explain, close: a browser cannot read the HTTP status of a refused handshake, but it can
            # read this message and the close code.
            await self.accept()
            await self.send_json({"type": "error", "error": error_body(*_UNAUTHENTICATED)["error"]})
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        group = user_group(user.pk)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = [group]  # only once joined: `disconnect` leaves them
        api_key = self.scope.get("api_key")
        if api_key is not None:
            await self.channel_layer.group_add(api_key_group(api_key.pk), self.channel_name)
            self.groups_joined.append(api_key_group(api_key.pk))
            # Revoked after the handshake read it but before the join above: its close message went to no one.
            if not await database_sync_to_async(api_key_is_live)(api_key.pk):
                await self.accept()
                await self._end(*_KEY_REVOKED, code=CLOSE_UNAUTHENTICATED)
                return
        await self.accept()
        await self.opened()

    async def opened(self) -> None:
        """The socket is accepted and authenticated: greet."""
        await self.send_json({"type": "hello", "user": str(self.scope["user"].public_id)})

    async def stop_work(self) -> None:
        """Stop whatever the socket runs besides answering messages (its credentials are gone, or it closed)."""

    async def disconnect(self, code: int) -> None:
        await self.stop_work()
        await self._leave_groups()

    async def _leave_groups(self) -> None:
        groups, self.groups_joined = getattr(self, "groups_joined", []), []
        for group in groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception as exc:  # Redis away: the membership expires with the group (channels' group_expiry)
                if not is_backend_outage(exc):
                    raise
                logger.warning("could not leave %s: Redis unavailable", group)

    async def _end(self, error_code: str, message: str, *, code: int) -> None:
        """Say why, close, and send nothing more: no event or audio already on its way reaches a socket whose
        credentials are gone."""
        if getattr(self, "ended", False):
            return
        self.ended = True
        await self.stop_work()
        await self._leave_groups()
        await self.send_json({"type": "error", "error": error_body(error_code, message)["error"]})
        await self.close(code=code)

    async def send_json(self, content, close=False) -> None:
        if getattr(self, "ended", False) and content.get("type") != "error":
            return
        await super().send_json(content, close=close)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        if getattr(self, "ended", False) and bytes_data is not None:
            return  # no audio after the end
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    @classmethod
    async def decode_json(cls, text_data):
        """A message too deep (or not JSON) is answered with an error, not a crash that closes the socket."""
        try:
            return json_document_parse(text_data)
        except ValueError:
            return _UNREADABLE

    async def account_blocked(self, event: dict) -> None:
        """An operator blocked the account (accounts.blocking.user_block): say so and close every socket it has."""
        await self._end(AccountBlocked.code, AccountBlocked.default_message, code=CLOSE_ACCOUNT_BLOCKED)

    async def api_key_revoked(self, event: dict) -> None:
        """The key this socket was opened with was revoked (accounts.services.api_key_revoke): close it."""
        await self._end(*_KEY_REVOKED, code=CLOSE_UNAUTHENTICATED)


class UserEventsConsumer(AuthenticatedSocket):
    """One socket per browser tab or client: `job.updated` and `voice.updated` for the user's own objects."""

    async def stop_work(self) -> None:
        if getattr(self, "_audio_task", None) is not None:
            self._audio_task.cancel()

    async def receive_json(self, content, **kwargs) -> None:
        if content is _UNREADABLE:
            await self._error("malformed_json", f"Send JSON objects nested at most {JSON_MAX_DEPTH} levels.")
            return
        if not isinstance(content, dict) or getattr(self, "ended", False):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif content.get("type") == "audio.subscribe":
            await self._audio_subscribe(str(content.get("job_id", "")))

    async def _audio_subscribe(self, job_id: str) -> None:
        """Send a streamed job's audio as binary frames while it is made, then `audio.end`. One stream at a time
        per socket (binary frames carry no job id)."""
        if getattr(self, "_audio_task", None) is not None and not self._audio_task.done():
            await self._error(StreamBusy.code, StreamBusy.default_message)
            return
        problem = await database_sync_to_async(_streamable_job_problem)(self.scope["user"], job_id)
        if problem:
            await self._error(*problem)
            return
        self._audio_task = asyncio.create_task(self._audio_relay(job_id))

    async def _audio_relay(self, job_id: str) -> None:
        async for piece in stream_relay(job_id=job_id, timeout=settings.TTS_STREAM_IDLE_TIMEOUT):
            await self.send(bytes_data=piece)
        await self.send_json({"type": "audio.end", "job_id": job_id})

    async def _error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "error": error_body(code, message)["error"]})

    async def job_updated(self, event: dict) -> None:
        job = dict(event["job"])
        if job.get("audio_url", "") and job["audio_url"].startswith("/"):
            job["audio_url"] = _base_url(self.scope) + job["audio_url"]
        await self.send_json({"type": "job.updated", "job": job})

    async def voice_updated(self, event: dict) -> None:
        await self.send_json({"type": "voice.updated", "voice": event["voice"]})


def _streamable_job_problem(user, job_id: str) -> tuple[str, str] | None:
    """Why the user cannot subscribe to this job's audio stream, or None."""
    try:
        job = SynthesisJob.objects.filter(pk=job_id, user=user).values("streamed").first()
    except (ValueError, ValidationError):
        job = None
    if job is None:
        return "not_found", "No such job."
    if not job["streamed"]:
        return "job_not_streamed", 'Submit the job with "stream": true (mp3, pcm, ulaw or ogg) to stream its audio.'
    return None


def _connect_verdict(scope):
    """A websocket connect counts as a read against the IP's, the user's and the key's limits."""
    ip = client_ip_from_scope(scope)
    return ratelimit_hit(request_limits(ip=ip, user=scope.get("user"), api_key=scope.get("api_key"), write=False))
