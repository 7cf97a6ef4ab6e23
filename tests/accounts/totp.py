"""RFC 6238 codes computed here, independently of django-otp, as an authenticator app computes them."""

import base64
import hashlib
import hmac
import re
import struct
import time


def totp_code(secret_b32: str, *, steps_ahead: int = 0, step: int = 30, digits: int = 6) -> str:
    """The code for the current 30 s step (`steps_ahead` later: a step after one already used, which the server
    refuses to accept twice)."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int(time.time() // step) + steps_ahead
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return f"{value:0{digits}d}"


def secret_from_page(html: str) -> str:
    match = re.search(r'data-testid="mfa-secret">([A-Z2-7]+)<', html)
    assert match, "the enrolment page shows the key"
    return match.group(1)


def wrong_code(secret_b32: str) -> str:
    """A code no step near now has (a server accepts one step either way)."""
    near = {totp_code(secret_b32, steps_ahead=offset) for offset in (-2, -1, 0, 1, 2)}
    return next(code for code in ("000000", "111111", "222222") if code not in near)
