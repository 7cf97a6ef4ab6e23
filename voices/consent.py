"""Consent challenges: the one-time phrase and the statement a customer reads aloud, and whether a challenge can
still be used."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from textnorm.consent_wording import consent_statement, phrase_draw

from .abuse import consent_activity_check
from .errors import (
    ConsentChallengeInvalid,
)
from .models import (
    ConsentChallenge,
)

logger = logging.getLogger(__name__)


def consent_activity_check_quietly(ip_address: str | None) -> None:
    """Abuse detection after the fact: a failure there must never fail the customer's request."""
    try:
        consent_activity_check(ip=ip_address)
    except Exception:
        logger.exception("consent activity check failed for %s", ip_address)


def consent_challenge_create(*, user, ip_address: str | None = None) -> ConsentChallenge:
    # The words and the wording are speech.consent's (PHRASE_WORDS says how they were chosen). Four different
    # words: each word of the phrase is then shown, heard or missed, once (GET .../consent).
    phrase = phrase_draw(secrets.SystemRandom())
    challenge = ConsentChallenge.objects.create(
        user=user,
        statement=consent_statement(email=user.email, phrase=phrase),
        nonce=phrase,
        expires_at=timezone.now() + timedelta(seconds=settings.CONSENT_CHALLENGE_TTL),
        ip_address=ip_address,
    )
    if ip_address:
        transaction.on_commit(lambda: consent_activity_check_quietly(ip_address))
    return challenge


def consent_challenge_usable_or_raise(*, user, challenge_id, lock: bool) -> ConsentChallenge:
    queryset = ConsentChallenge.objects.select_for_update() if lock else ConsentChallenge.objects
    try:
        challenge = queryset.get(pk=challenge_id, user=user)
    except (ConsentChallenge.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        # Unknown, malformed, or another account's: the same answer, so ids cannot be probed.
        raise ConsentChallengeInvalid(detail={"reason": "unknown"}) from exc
    if challenge.used_at is not None:
        raise ConsentChallengeInvalid(detail={"reason": "used"})
    if challenge.expires_at <= timezone.now():
        raise ConsentChallengeInvalid(detail={"reason": "expired"})
    return challenge
