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

from .abuse import consent_activity_check
from .errors import (
    ConsentChallengeInvalid,
)
from .models import (
    ConsentChallenge,
)

logger = logging.getLogger(__name__)


# Short, distinct, easy-to-say words for the one-time phrase.
_PHRASE_WORDS = (
    "amber anchor apple arrow autumn badge banjo basket beacon berry bishop blanket blossom border bottle "
    "bridge bronze bubble butter cactus camera candle canyon carpet castle cedar cherry circle cobalt "
    "comet copper coral cotton crystal dancer desert diamond dolphin dragon drum eagle echo ember falcon "
    "feather fiddle forest fossil garden ginger glacier globe granite guitar hammer harbor harvest hazel "
    "helmet honey island ivory jacket jaguar jungle kettle kitten ladder lantern lemon lily lizard magnet "
    "mango maple marble meadow melon meteor mirror mosaic nectar needle nickel oasis ocean olive orbit "
    "orchid oyster paddle panda parrot pebble pepper piano pillow planet pocket pony puzzle quartz rabbit "
    "radar raven ribbon river rocket saddle salmon satin shadow silver sketch spider spruce stable summit "
    "sunset tablet temple thunder ticket tiger timber tulip tunnel valley velvet violin walnut willow "
    "window winter yellow zebra"
).split()


def consent_statement_for(*, email: str, phrase: str) -> str:
    return (
        f"I am the holder of the ODIADEV-TTS account {email}. I consent to ODIADEV-TTS creating a synthetic "
        f"version of my own voice from my recordings, for use by my account only, and I know I can delete it "
        f"at any time. My one-time phrase is: {phrase}."
    )


def consent_activity_check_quietly(ip_address: str | None) -> None:
    """Abuse detection after the fact: a failure there must never fail the customer's request."""
    try:
        consent_activity_check(ip=ip_address)
    except Exception:
        logger.exception("consent activity check failed for %s", ip_address)


def consent_challenge_create(*, user, ip_address: str | None = None) -> ConsentChallenge:
    phrase = " ".join(secrets.choice(_PHRASE_WORDS) for _ in range(4))
    challenge = ConsentChallenge.objects.create(
        user=user,
        statement=consent_statement_for(email=user.email, phrase=phrase),
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
