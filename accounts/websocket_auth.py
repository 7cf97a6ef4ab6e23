"""Websocket authentication: an API key (`?api_key=` or `Authorization: Bearer`) or the session cookie.

A session cookie is honoured only when the Origin header names one of our hosts, so another site cannot open a
socket with a visitor's cookie. An API key needs no such check: browsers do not attach it by themselves.

A right key of an account whose email is not verified yet is refused here (`api_key_authenticate` raises), the
way the consumer refuses: accept, send the error, close with 4403 (a browser cannot read a refused handshake's
status, it can read this).

A socket opened with a key lives only as long as the key: it joins the key's group (`core.events.api_key_group`)
and closes when `api_key_revoke` sends there (`UserEventsConsumer.api_key_revoked`); `api_key_is_live` closes the
gap of a key revoked between this check and the join.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host

from core.exceptions import error_body

from .errors import EmailUnverified
from .models import ApiKey
from .services import api_key_authenticate

CLOSE_FORBIDDEN = 4403  # mirrors HTTP 403, like the consumer's close codes


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _api_key_from_scope(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("api_key"):
        return query["api_key"][0]
    header = _header(scope, b"authorization")
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def api_key_is_live(key_id) -> bool:
    """Whether the key is still unrevoked and its user active, read from the database (not the cache)."""
    return ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True, user__is_active=True).exists()


def _origin_allowed(scope) -> bool:
    origin = _header(scope, b"origin")
    if not origin:
        return False
    host, _port = split_domain_port(urlparse(origin).netloc)
    return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)


class _ApiKeyOrOriginCheckedSession:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        secret = _api_key_from_scope(scope)
        if secret is not None:
            try:
                api_key = await database_sync_to_async(api_key_authenticate)(secret=secret)
            except EmailUnverified as exc:
                return await _refuse(exc, receive, send)
            scope["user"] = api_key.user if api_key else AnonymousUser()
            scope["api_key"] = api_key
        elif not _origin_allowed(scope):
            scope["user"] = AnonymousUser()
        return await self.inner(scope, receive, send)


async def _refuse(exc: EmailUnverified, receive, send) -> None:
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    body = {"type": "error", "error": error_body(exc.code, exc.message)["error"]}
    await send({"type": "websocket.send", "text": json.dumps(body)})
    await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN})


def WebsocketAuthMiddleware(inner):  # noqa: N802 - reads like the middleware class it builds
    return AuthMiddlewareStack(_ApiKeyOrOriginCheckedSession(inner))
