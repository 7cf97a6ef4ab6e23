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


# Short, distinct, easy-to-say words for the one-time phrase. Drawn from 136 words, less those Whisper tiny.en
# heard badly in bench/asr.py (bench/measured/asr_2core.json, "vocabulary", 6 honest recordings per word):
# - one of each pair one edit apart, which the phrase match's spelling tolerance cannot tell apart (a replay
#   would need only the near word): ember (amber), saddle (paddle), willow (pillow; missed once), rocket (pocket);
# - words missed in half or more of their recordings, each a likely false rejection of an honest customer:
#   tulip, globe, meadow (6 of 6), meteor (5), velvet, satin, kitten, thunder (4), island, tiger, falcon, quartz,
#   magnet, comet, ladder, nectar (3).
# 116 words remain; a phrase is four different ones (116*115*114*113 draws).
_PHRASE_WORDS = (
    "amber anchor apple arrow autumn badge banjo basket beacon berry bishop blanket blossom border bottle bridge "
    "bronze bubble butter cactus camera candle canyon carpet castle cedar cherry circle cobalt copper coral "
    "cotton crystal dancer desert diamond dolphin dragon drum eagle echo feather fiddle forest fossil garden "
    "ginger glacier granite guitar hammer harbor harvest hazel helmet honey ivory jacket jaguar jungle kettle "
    "lantern lemon lily lizard mango maple marble melon mirror mosaic needle nickel oasis ocean olive orbit "
    "orchid oyster paddle panda parrot pebble pepper piano pillow planet pocket pony puzzle rabbit radar raven "
    "ribbon river salmon shadow silver sketch spider spruce stable summit sunset tablet temple ticket timber "
    "tunnel valley violin walnut window winter yellow zebra"
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
    # Four different words: each word of the phrase is then shown, heard or missed, once (GET .../consent).
    phrase = " ".join(secrets.SystemRandom().sample(_PHRASE_WORDS, 4))
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
