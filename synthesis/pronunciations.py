"""Writes for an account's pronunciation dictionary (reads are in selectors)."""

from __future__ import annotations

import logging
import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower

from billing.services import account_revision_bump

from .errors import (
    PronunciationExists,
    PronunciationInvalid,
    PronunciationLimitReached,
)
from .models import Pronunciation
from .selectors import pronunciation_get_for

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# Pronunciation dictionary
# ---------------------------------------------------------------------------------------------------------------
_WORD_MAX, _REPLACEMENT_MAX = 100, 200


def _pronunciation_clean(field: str, value: str, max_length: int) -> str:
    # The same canonical form as the texts it is matched against (NFC, single spaces), or it could never match.
    cleaned = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not cleaned:
        raise PronunciationInvalid(f"The {field} is empty.", detail={"field": field})
    if len(cleaned) > max_length:
        raise PronunciationInvalid(
            f"The {field} is longer than {max_length} characters.", detail={"field": field, "max_length": max_length}
        )
    return cleaned


def _same_word(entry: Pronunciation) -> Pronunciation | None:
    """The account's other entry for this word in any case, compared as the unique constraint compares (Lower)."""
    return (
        Pronunciation.objects.filter(user_id=entry.user_id)
        .exclude(pk=entry.pk)
        .annotate(word_lower=Lower("word"))
        .filter(word_lower=Lower(Value(entry.word)))
        .first()
    )


def _exists(entry: Pronunciation, existing: Pronunciation | None) -> PronunciationExists:
    if existing is None:
        return PronunciationExists(detail={"word": entry.word})
    return PronunciationExists(
        f"You already have an entry for “{existing.word}” (said as “{existing.replacement}”); words match "
        "regardless of case, so there can be only one. Edit that entry instead.",
        detail={"word": entry.word, "existing_id": str(existing.pk), "existing_word": existing.word},
    )


def _pronunciation_save(entry: Pronunciation) -> Pronunciation:
    """Save, refusing a word the account already has in any case (pronunciation_exists, 409). Entries match text
    regardless of the case of their word, so a second entry for the same word would never apply."""
    if (existing := _same_word(entry)) is not None:
        raise _exists(entry, existing)
    try:
        with transaction.atomic():
            account_revision_bump(user_id=entry.user_id)  # (the submits' copies of the dictionary: billing/terms.py)
            entry.save()
    except IntegrityError as exc:  # a parallel save of the same word won the race
        raise _exists(entry, _same_word(entry)) from exc
    return entry


def pronunciation_create(
    *, user, word: str, replacement: str, case_sensitive: bool = False, whole_word: bool = True
) -> Pronunciation:
    """Add an entry to the account's dictionary; refused once it holds PRONUNCIATIONS_MAX_PER_ACCOUNT entries."""
    entry = Pronunciation(
        user=user,
        word=_pronunciation_clean("word", word, _WORD_MAX),
        replacement=_pronunciation_clean("replacement", replacement, _REPLACEMENT_MAX),
        case_sensitive=case_sensitive,
        whole_word=whole_word,
    )
    limit = settings.PRONUNCIATIONS_MAX_PER_ACCOUNT
    with transaction.atomic():
        # The account row lock serialises parallel creates, so the count cannot be raced past the limit.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if Pronunciation.objects.filter(user=user).count() >= limit:
            raise PronunciationLimitReached(detail={"max_entries": limit})
        return _pronunciation_save(entry)


def pronunciation_update(
    *,
    user,
    pronunciation_id,
    word: str | None = None,
    replacement: str | None = None,
    case_sensitive: bool | None = None,
    whole_word: bool | None = None,
) -> Pronunciation:
    """Change one of the account's entries; fields left as None keep their value."""
    entry = pronunciation_get_for(user=user, pronunciation_id=pronunciation_id)
    if word is not None:
        entry.word = _pronunciation_clean("word", word, _WORD_MAX)
    if replacement is not None:
        entry.replacement = _pronunciation_clean("replacement", replacement, _REPLACEMENT_MAX)
    if case_sensitive is not None:
        entry.case_sensitive = case_sensitive
    if whole_word is not None:
        entry.whole_word = whole_word
    return _pronunciation_save(entry)


def pronunciation_delete(*, user, pronunciation_id) -> None:
    entry = pronunciation_get_for(user=user, pronunciation_id=pronunciation_id)
    with transaction.atomic():
        account_revision_bump(user_id=entry.user_id)
        entry.delete()
