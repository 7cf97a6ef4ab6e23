"""Writes for accounts: users and API keys."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from controls.switches import SwitchName, switch_is_on
from core.events import api_key_event_send

from .errors import ApiKeyNotFound, EmailInvalid, EmailTaken, PasswordInvalid, SignupsClosed
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
    operators' own tools (commands, admin) still create accounts."""
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
            return User.objects.create_user(email=email, password=password)
    except IntegrityError as exc:
        raise EmailTaken() from exc


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
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """Return the active key for `secret`, or None. Constant-time comparison of the stored hash.

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
