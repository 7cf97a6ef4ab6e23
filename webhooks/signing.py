"""Signatures of webhook deliveries: `ODIADEV-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`.

The MAC covers f"{t}.{body}" with the endpoint's secret, so a receiver can check both that the body came from us
unchanged and that it is recent (replays of an old delivery fail its tolerance check). While a rotated secret's
grace period runs there is one `v1=` per valid secret; a receiver accepts the delivery if any of them matches.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "ODIADEV-Signature"
EVENT_ID_HEADER = "ODIADEV-Event-Id"
EVENT_TYPE_HEADER = "ODIADEV-Event-Type"
DELIVERY_ID_HEADER = "ODIADEV-Delivery-Id"


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(*, secrets: list[str], timestamp: int, body: bytes) -> str:
    parts = [f"t={timestamp}"]
    parts += [f"v1={signature_compute(secret=secret, timestamp=timestamp, body=body)}" for secret in secrets]
    return ",".join(parts)
