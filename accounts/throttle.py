"""Throttles on the account pages, counted in Redis: failed log-ins per account and per client address, sign-ups
and password-reset emails per address, verification emails per account.

Failed log-ins: each failure counts against the account (its email, hashed) and the address; a counter lives
`LOGIN_LOCKOUT_SECONDS` after its latest failure. Once one holds `LOGIN_FAILURES_PER_ACCOUNT` /
`LOGIN_FAILURES_PER_ADDRESS`, every log-in for that account / from that address is refused before the password is
checked (the right one too) until the counter expires; refused attempts do not extend it. A successful log-in
clears the account's counter, never the address's (an attacker must not reset it by logging in to an account of
their own).

Sign-ups, password-reset and verification emails: at most N in a fixed window that starts with the first.

The keys sit beside `controls.ratelimit`'s (`<prefix>:rl:...`), on the same Redis. With Redis out of reach
log-ins fail open (logged): the per-address rate limit fails open too, and locking every customer out during an
outage is worse than a throttle that pauses. Sign-ups and emails fail closed (ThrottleUnavailable,
503): they can wait a minute, and they are what an abuse wave spends.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django_redis import get_redis_connection

from core.exceptions import is_backend_outage

from .errors import (
    LoginThrottled,
    PasswordResetThrottled,
    SignupThrottled,
    ThrottleUnavailable,
    VerificationResendThrottled,
)

logger = logging.getLogger(__name__)


def _key(*parts) -> str:
    return ":".join([settings.REDIS_KEY_PREFIX, "rl", *(str(part) for part in parts)])


def _account_key(email: str) -> str:
    # Hashed: the store holds no email address.
    digest = hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:32]
    return _key("login-fail", "account", digest)


def _address_key(ip: str | None) -> str | None:
    return _key("login-fail", "ip", ip) if ip else None


def _redis():
    return get_redis_connection("default")


def _outage(exc: Exception, what: str) -> None:
    """Log a Redis outage; re-raise anything else (a bug in how we use it must show)."""
    if not is_backend_outage(exc):
        raise exc
    logger.warning("%s: Redis unreachable (%s)", what, exc)


# ---------------------------------------------------------------------------------------------------------------
# Log-ins
# ---------------------------------------------------------------------------------------------------------------
def login_check(*, email: str, ip: str | None) -> None:
    """Raise LoginThrottled while the account or the address is locked. Call before checking the password."""
    limits = [(_account_key(email), settings.LOGIN_FAILURES_PER_ACCOUNT)]
    if address := _address_key(ip):
        limits.append((address, settings.LOGIN_FAILURES_PER_ADDRESS))
    try:
        pipe = _redis().pipeline(transaction=False)
        for key, _ in limits:
            pipe.get(key)
            pipe.ttl(key)
        replies = pipe.execute()
    except Exception as exc:
        _outage(exc, "login throttle not checked")
        return
    wait = 0
    for index, (_, limit) in enumerate(limits):
        count, ttl = replies[2 * index], replies[2 * index + 1]
        if count is not None and int(count) >= limit:
            wait = max(wait, ttl if ttl and ttl > 0 else settings.LOGIN_LOCKOUT_SECONDS)
    if wait:
        raise LoginThrottled(retry_after=wait)


def login_failure_record(*, email: str, ip: str | None) -> None:
    """Count one failed log-in (a wrong password, or a wrong second-factor code) for the account and the address."""
    keys = [_account_key(email), *filter(None, [_address_key(ip)])]
    try:
        pipe = _redis().pipeline(transaction=True)
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, settings.LOGIN_LOCKOUT_SECONDS)
        pipe.execute()
    except Exception as exc:
        _outage(exc, "failed log-in not counted")


def login_success_record(*, email: str) -> None:
    """Forget the account's failures (its owner got in, or reset the password by email)."""
    try:
        _redis().delete(_account_key(email))
    except Exception as exc:
        _outage(exc, "failed log-ins not cleared")


# ---------------------------------------------------------------------------------------------------------------
# Fixed windows: sign-ups per address, verification emails per account
# ---------------------------------------------------------------------------------------------------------------
def _window_take(key: str, *, limit: int, window: int) -> int:
    """Take one of `limit` slots of a window of `window` s that starts with its first use; return 0 when taken,
    else the seconds until the window ends (and nothing is taken). Raise ThrottleUnavailable without Redis."""
    try:
        pipe = _redis().pipeline(transaction=True)
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = pipe.execute()
        if count > limit:
            _redis().decr(key)  # a refused attempt uses no slot
            return ttl if ttl and ttl > 0 else window
    except Exception as exc:
        _outage(exc, f"throttle {key} not checked")
        raise ThrottleUnavailable() from exc
    return 0


def _window_give_back(key: str) -> None:
    try:
        _redis().decr(key)
    except Exception as exc:
        _outage(exc, f"throttle {key} slot not given back")


def signup_take(*, ip: str | None) -> str | None:
    """Take a sign-up slot for the address (raise SignupThrottled when none is left); returns a handle for
    `signup_give_back` if the sign-up then fails."""
    if not ip:
        return None
    key = _key("signup", "ip", ip)
    if wait := _window_take(key, limit=settings.SIGNUPS_PER_ADDRESS, window=settings.SIGNUP_WINDOW_SECONDS):
        raise SignupThrottled(retry_after=wait)
    return key


def signup_give_back(handle: str | None) -> None:
    """A sign-up that created no account (a taken email, a weak password) uses no slot."""
    if handle:
        _window_give_back(handle)


def verification_email_take(*, user_pk) -> None:
    """Take one of the account's verification emails for this hour (raise VerificationResendThrottled)."""
    key = _key("verify-email", "user", user_pk)
    if wait := _window_take(key, limit=settings.EMAIL_VERIFICATION_EMAILS_PER_HOUR, window=3600):
        raise VerificationResendThrottled(retry_after=wait)


def password_reset_take(*, ip: str | None) -> None:
    """Take one of the address's password-reset emails for this hour (raise PasswordResetThrottled)."""
    if not ip:
        return
    key = _key("password-reset", "ip", ip)
    if wait := _window_take(key, limit=settings.PASSWORD_RESETS_PER_ADDRESS, window=3600):
        raise PasswordResetThrottled(retry_after=wait)
