"""Checking a webhook delivery: `ODIADEV-Signature: t=<unix time>,v1=<hex HMAC-SHA256>[,v1=...]`.

The MAC covers f"{t}.{raw body}" with the endpoint's secret. While a rotated secret's grace period runs the header
carries one `v1=` per valid secret; a delivery is genuine if any of them matches. Pass the raw body bytes exactly
as received (not re-serialised JSON)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

from .errors import WebhookVerificationError

SIGNATURE_HEADER = "ODIADEV-Signature"
EVENT_ID_HEADER = "ODIADEV-Event-Id"
EVENT_TYPE_HEADER = "ODIADEV-Event-Type"
DELIVERY_ID_HEADER = "ODIADEV-Delivery-Id"
DEFAULT_TOLERANCE = 300  # seconds between the signature's time and now


def compute_signature(*, secret: str, timestamp: int, payload: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def verify_webhook(
    payload: bytes | str,
    signature: str | None,
    secret: str | Iterable[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivery's JSON body if `signature` (the ODIADEV-Signature header) is valid for `payload` under
    `secret` (or any of several secrets) and recent; otherwise `WebhookVerificationError`."""
    if isinstance(payload, str):
        payload = payload.encode()
    if not signature:
        raise WebhookVerificationError(f"No {SIGNATURE_HEADER} header.")
    timestamp: int | None = None
    macs: list[str] = []
    for part in signature.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookVerificationError("The signature's timestamp is not a number.") from None
        elif key == "v1" and value:
            macs.append(value)
    if timestamp is None or not macs:
        raise WebhookVerificationError("The signature header has no t= or no v1=.")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(f"The signature is {abs(current - timestamp):.0f} s away from now.")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    expected = [compute_signature(secret=s, timestamp=timestamp, payload=payload) for s in secrets]
    if not any(hmac.compare_digest(mac, candidate) for mac in macs for candidate in expected):
        raise WebhookVerificationError("No signature matches the secret.")
    try:
        return json.loads(payload)  # type: ignore[no-any-return]
    except ValueError:
        raise WebhookVerificationError("The body is not JSON.") from None
