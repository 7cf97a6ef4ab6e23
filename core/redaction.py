"""Secrets out of logged URLs: the one place that decides which query values an access log may not keep.

Signed audio links carry `?token=`, a websocket may carry `?api_key=`; a log line is read by more people, and kept
longer, than the secret should be. `redact_query` keeps the path and every parameter name (so a line still says
what was asked) and replaces the value of each sensitive one with `REDACTED`.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

REDACTED = "REDACTED"
# Compared lower-cased, after percent-decoding the name.
SENSITIVE_QUERY_KEYS = frozenset(
    {
        "token",
        "sig",
        "signature",
        "api_key",
        "apikey",
        "key",
        "access_token",
        "refresh_token",
        "secret",
        "password",
        "session",
        "sessionid",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)


def redact_query(target: str) -> str:
    """`target` (a path with an optional query string) with the value of every sensitive parameter replaced."""
    if "?" not in target:
        return target
    path, query = target.split("?", 1)
    fragment = ""
    if "#" in query:
        query, fragment = query.split("#", 1)
        fragment = "#" + fragment
    parts = []
    for part in query.split("&"):
        name = part.split("=", 1)[0]
        if unquote_plus(name).strip().lower() in SENSITIVE_QUERY_KEYS:
            part = f"{name}={REDACTED}"
        parts.append(part)
    return f"{path}?{'&'.join(parts)}{fragment}"
