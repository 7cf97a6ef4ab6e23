"""Writes for accounts: users, email verification and API keys."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.services import account_grant_ensure
from controls.switches import SwitchName, switch_is_on
from core.events import api_key_event_send

from .errors import (
    ApiKeyNotFound,
    EmailInvalid,
    EmailTaken,
    EmailUnverified,
    PasswordInvalid,
    SignupsClosed,
    VerificationLinkExpired,
    VerificationLinkInvalid,
)
from .models import ApiKey, User

KEY_SCHEME = "odk"
# Writing last_used_at on every request would turn each API call into a write; once a minute is enough to show.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# What a revoked key's cache entry holds instead of the key, for as long as a valid entry could live.
REVOKED = "revoked"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # the only time the full key exists outside the customer's hands


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_create(*, email: str, password: str | None, self_service: bool = False) -> User:
    """A new account. `self_service` (the sign-up page) is refused while the operators' new_signups switch is off;
    operators' own tools (commands, admin) still create accounts.

    A self-service account starts unverified: its API keys are refused and it gets no free characters until its
    owner follows the emailed link (`user_email_verify`). Operators' accounts are verified as they are made."""
    if self_service and not switch_is_on(SwitchName.NEW_SIGNUPS):
        raise SignupsClosed()
    email = User.objects.normalize_email(email).strip().lower()
    if not email or "@" not in email:
        raise EmailInvalid()
    if password is not None:
        try:
            validate_password(password, user=User(email=email))
        except ValidationError as exc:
            raise PasswordInvalid(" ".join(exc.messages)) from exc
    try:
        with transaction.atomic():
            extra = {"email_verified_at": None} if self_service else {}
            return User.objects.create_user(email=email, password=password, **extra)
    except IntegrityError as exc:
        raise EmailTaken() from exc


# ---------------------------------------------------------------------------------------------------------------
# Email verification
# ---------------------------------------------------------------------------------------------------------------
# The link's token is signed (SECRET_KEY, this salt) and carries its time: it proves the address received it, it
# expires after EMAIL_VERIFICATION_MAX_AGE seconds, and it names the address it was sent to, so a link sent before
# an email change verifies nothing. Nothing is stored: a second click finds the account verified already.
_VERIFY_SALT = "accounts.email-verification"


def email_verification_token(*, user: User) -> str:
    return signing.dumps({"u": str(user.public_id), "e": user.email}, salt=_VERIFY_SALT, compress=True)


@dataclass(frozen=True)
class EmailVerification:
    user: User
    newly: bool  # False: the account was verified already (a second click), nothing was granted


def user_email_verify(*, token: str) -> EmailVerification:
    """Verify the account a link's token names; raise VerificationLinkExpired / VerificationLinkInvalid."""
    try:
        claims = signing.loads(token, salt=_VERIFY_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise VerificationLinkExpired() from exc
    except signing.BadSignature as exc:
        raise VerificationLinkInvalid() from exc
    user = User.objects.filter(public_id=claims.get("u"), email=claims.get("e")).first()
    if user is None:
        raise VerificationLinkInvalid()
    return EmailVerification(user=user, newly=user_email_verified_mark(user=user))


def user_email_verified_mark(*, user: User) -> bool:
    """Mark the account's email verified and grant this month's free characters; True if it was not verified yet.

    Once only, however often it is called, in parallel too: the conditional UPDATE lets one caller through, and
    billing writes at most one grant per month (`account_grant_ensure`; it grants none to unverified accounts)."""
    now = timezone.now()
    with transaction.atomic():
        newly = bool(User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=now))
        if newly:
            user.email_verified_at = now
            account_grant_ensure(user=user)
    if newly:
        logger.info("email of %s verified", user)
    else:
        user.refresh_from_db(fields=["email_verified_at"])
    return newly


def api_key_create(*, user: User, name: str = "") -> IssuedApiKey:
    prefix = secrets.token_hex(4)
    secret = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        user=user, name=(name.strip() or "API key")[:100], prefix=prefix, secret_hash=_hash_secret(secret)
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


def _cache_entry(secret_hash: str) -> str:
    return f"apikey:{secret_hash}"


def api_key_revoke(*, user: User, key_id) -> ApiKey:
    """Revoke one of the user's keys; revoking again is a no-op that keeps the first revocation time.

    The key's entry in the shared cache becomes `REVOKED` in the same transaction, so every web process refuses it
    on its next request. A process that read the key before this commits only ever *adds* an entry (never replaces
    one), so it cannot bring the key back. With the cache out of reach the revocation fails whole (and can be
    retried): a revoked key must not keep working from a stale entry."""
    try:
        api_key = ApiKey.objects.get(user=user, pk=key_id)
    except (ApiKey.DoesNotExist, ValidationError) as exc:
        raise ApiKeyNotFound() from exc
    with transaction.atomic():
        if api_key.revoked_at is None:
            ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
            api_key.refresh_from_db(fields=["revoked_at"])
        cache.set(_cache_entry(api_key.secret_hash), REVOKED, timeout=settings.API_KEY_CACHE_SECONDS + 5)
        # Every websocket opened with the key closes itself on this (synthesis.consumers, `api_key_revoked`).
        api_key_event_send(api_key.pk, "api_key.revoked", "detail", {"reason": "api_key_revoked"})
    return api_key


def _api_key_load(*, secret: str, secret_hash: str) -> ApiKey | None:
    parts = secret.split("_", 2)
    api_key = ApiKey.objects.select_related("user").filter(prefix=parts[1]).first()
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, secret_hash):
        return None
    if api_key.revoked_at is not None or not api_key.user.is_active:
        return None
    if api_key.user.email_verified_at is None:
        raise EmailUnverified()  # never cached: the next request after verifying reads the database again
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """Return the active key for `secret`, or None. Constant-time comparison of the stored hash. Raise
    EmailUnverified for a right key of an account whose email is not verified yet (403 `email_unverified`; REST
    and websockets both come here).

    Answered from the shared cache for `API_KEY_CACHE_SECONDS` (the entry's name is the secret's hash, so only the
    right secret finds it); `last_used_at` is written only when the key is read from the database, at most once a
    minute, so it is at most that plus the cache's lifetime behind. With the cache out of reach: the database."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME:
        return None
    secret_hash = _hash_secret(secret)
    entry = _cache_entry(secret_hash)
    try:
        cached = cache.get(entry)
    except Exception:  # the cache is an optimisation here
        logger.warning("API key cache unavailable", exc_info=True)
        return _api_key_load(secret=secret, secret_hash=secret_hash)
    if cached == REVOKED:
        return None
    if cached is not None:
        return cached
    api_key = _api_key_load(secret=secret, secret_hash=secret_hash)
    if api_key is not None:
        try:
            cache.add(entry, api_key, timeout=settings.API_KEY_CACHE_SECONDS)  # add: never over a REVOKED entry
        except Exception:
            logger.warning("API key cache unavailable", exc_info=True)
    return api_key
