"""Daphne's HTTP transport, hardened: request bodies capped before they are read, access-log lines without secrets.

Installed by `odiadev.asgi` when Daphne imports the application (`install()`), i.e. in every Daphne process before
it serves: `daphne ... odiadev.asgi:application` (the tests' stack) and `python -m odiadev.web` (production: each
worker runs that same command with `--fd`). Both guards are Daphne classes adjusted in place, because Daphne takes
no option for either:

- **Body cap.** Daphne's request class is Twisted's `http.Request`, which receives the whole body before Daphne or
  Django see it (in memory up to 100 KB, then a temporary file) and, for a POST with a multipart or urlencoded
  body, parses it all into `request.args` (`email.message_from_bytes`): a 100 MB upload to any path, without
  credentials, cost the process ~1.2 GB. `BodyCappedRequest` (installed as `daphne.http_protocol.WebRequest`, the
  name Daphne's factory builds every request from) decides the path's limit as soon as the headers are in
  (`body_limit_for`: `WEB_MAX_BODY_BYTES`, or `WEB_UPLOAD_MAX_BODY_BYTES` under a `WEB_UPLOAD_PATH_PREFIXES`
  prefix). A Content-Length above it is answered at once, before one byte of the body is read; a chunked body is
  answered when it crosses the limit. The answer is 413 with our JSON error body (`request_too_large`) and
  `Connection: close`; the rest of the body is discarded as it arrives, never stored, and the connection is cut
  once the client closes or `LINGER_SECONDS` later (closing at once, with unread bytes in the socket, makes the
  kernel send a reset that can destroy the 413 before the client reads it). Twisted's form parsing is switched
  off for every request: Daphne hands the raw body to the application and never reads `request.args`.
- **Access log.** Daphne's access log (stdout at the default verbosity, or `--access-log`) writes each request's
  path with its query string, and so does Twisted's own request log (shown from `-v 2`): every path either logs
  goes through `core.redaction.redact_query` first.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import unquote, urlsplit

from django.conf import settings

from core.exceptions import error_body
from core.redaction import redact_query

logger = logging.getLogger(__name__)

LINGER_SECONDS = 2.0
_installed = False


def body_limit_for(target: str) -> int:
    """Largest request body (bytes) accepted for a request target (`/path?query`, or an absolute URL)."""
    path = urlsplit(target).path if "://" in target else target.split("?", 1)[0]
    path = unquote(path)
    if path.startswith(tuple(settings.WEB_UPLOAD_PATH_PREFIXES)):
        return settings.WEB_UPLOAD_MAX_BODY_BYTES
    return settings.WEB_MAX_BODY_BYTES


def too_large_body(limit: int) -> bytes:
    megabytes = limit / (1024 * 1024)
    message = f"The request body is larger than this path accepts ({megabytes:g} MB)."
    return json.dumps(error_body("request_too_large", message, {"max_bytes": limit})).encode()


def _discard(data: bytes) -> None:
    return None


def _request_class():
    from daphne.http_protocol import WebRequest

    class BodyCappedRequest(WebRequest):
        """Daphne's request, with the body cap (module docstring) and no form parsing."""

        _body_limit = 0
        _body_received = 0
        _refused = False
        _linger = None

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._parsePOSTFormSubmission = False

        def gotLength(self, length):  # noqa: N802 - Twisted's name
            target = getattr(self.channel, "_path", b"/").decode("latin-1")
            self._body_limit = body_limit_for(target)
            if length is not None and length > self._body_limit:
                self._refuse(target)
                return
            super().gotLength(length)

        def handleContentChunk(self, data):  # noqa: N802 - Twisted's name
            if self._refused:
                return
            self._body_received += len(data)
            if self._body_received > self._body_limit:
                self._refuse(getattr(self.channel, "_path", b"/").decode("latin-1"))
                return
            super().handleContentChunk(data)

        def requestReceived(self, command, path, version):  # noqa: N802 - Twisted's name
            if not self._refused:
                super().requestReceived(command, path, version)

        def connectionLost(self, reason):  # noqa: N802 - Twisted's name
            if self._linger is not None and self._linger.active():
                self._linger.cancel()
            super().connectionLost(reason)

        def _refuse(self, target: str) -> None:
            self._refused = True
            channel = self.channel
            transport = channel.transport
            # Everything the client still sends is dropped unread (no "100 Continue" either).
            self.requestHeaders.removeHeader(b"Expect")
            channel.dataReceived = _discard
            channel.rawDataReceived = _discard
            body = too_large_body(self._body_limit)
            transport.write(
                b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            if hasattr(transport, "loseWriteConnection"):
                transport.loseWriteConnection()  # the 413, then FIN: the client reads a whole answer
            self._linger = channel.callLater(LINGER_SECONDS, transport.abortConnection)
            client = f"{self.client.host}:{self.client.port}" if hasattr(self.client, "host") else None
            self.server.log_action(
                "http",
                "complete",
                {
                    "path": target,
                    "status": 413,
                    "method": (getattr(channel, "_command", b"") or b"").decode("ascii", "replace"),
                    "client": client,
                    "time_taken": 0.0,
                    "size": len(body),
                },
            )

    return BodyCappedRequest


def _redact_access_log() -> None:
    from daphne.access import AccessLogGenerator
    from daphne.http_protocol import HTTPFactory

    log_action = AccessLogGenerator.__call__

    def redacted(self, protocol, action, details):
        if isinstance(details.get("path"), str):
            details = {**details, "path": redact_query(details["path"])}
        return log_action(self, protocol, action, details)

    AccessLogGenerator.__call__ = redacted

    # Twisted's own request log (written to Twisted's log, which Daphne shows from `-v 2`) formats `request.uri`.
    factory_log = HTTPFactory.log

    def redacted_factory_log(self, request):
        uri = request.uri
        if isinstance(uri, bytes) and b"?" in uri:
            request.uri = redact_query(uri.decode("latin-1")).encode("latin-1")
        try:
            return factory_log(self, request)
        finally:
            request.uri = uri

    HTTPFactory.log = redacted_factory_log


def install() -> None:
    """Put both guards in place (once per process; before Daphne builds its first request)."""
    global _installed
    if _installed:
        return
    import daphne.http_protocol

    daphne.http_protocol.WebRequest = _request_class()
    _redact_access_log()
    _installed = True
