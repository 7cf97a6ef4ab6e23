"""Reads for synthesis jobs and pronunciation dictionaries. Every read is scoped to the owner: another user's job
or entry simply does not exist."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce

from billing.terms import KeptPerAccount
from textnorm import PronunciationEntry

from .errors import JobNotFound, PronunciationNotFound
from .models import Pronunciation, SynthesisJob


def job_list_for(*, user) -> QuerySet[SynthesisJob]:
    """The user's jobs, newest first; a live job's pieces are not listed (the live job is)."""
    return SynthesisJob.objects.filter(user=user, parent=None).order_by("-created_at", "-id")


def job_get_for(*, user, job_id) -> SynthesisJob:
    try:
        return SynthesisJob.objects.get(user=user, pk=job_id)
    except (SynthesisJob.DoesNotExist, ValidationError) as exc:
        raise JobNotFound() from exc


def job_get(*, job_id) -> SynthesisJob:
    try:
        return SynthesisJob.objects.get(pk=job_id)
    except (SynthesisJob.DoesNotExist, ValidationError) as exc:
        raise JobNotFound() from exc


def job_audio_stored_bytes_for(*, user) -> int:
    """Bytes of audio the account's jobs keep in storage: the engine-made audio not yet expired. A cache hit
    points at its source's file and adds nothing. Billing opens an account's storage figure from this (registered
    in `SynthesisConfig.ready`); from then on the services record each change in billing's storage ledger."""
    return int(
        SynthesisJob.objects.filter(user=user, cached=False)
        .exclude(audio="")
        .aggregate(total=Coalesce(Sum("audio_bytes"), 0))["total"]
    )


def pronunciation_list_for(*, user) -> QuerySet[Pronunciation]:
    return Pronunciation.objects.filter(user=user).order_by("word", "id")


def pronunciation_get_for(*, user, pronunciation_id) -> Pronunciation:
    """One of the user's entries; another account's entry does not exist for them (404)."""
    try:
        return Pronunciation.objects.get(user=user, pk=pronunciation_id)
    except (Pronunciation.DoesNotExist, ValidationError) as exc:
        raise PronunciationNotFound() from exc


_entries_kept = KeptPerAccount()


def pronunciation_entries_for(*, user, revision: int | None = None) -> tuple[PronunciationEntry, ...]:
    """The account's dictionary as the text layer applies it (one query). With `revision` (the account's, from the
    terms a submit decides with), this process's copy read for that revision: the submit's locked read of the
    account confirms it (billing/terms.py), and every change of the dictionary changes the revision."""
    if revision is None:
        return _pronunciation_entries_read(user.pk)
    return _entries_kept.get(user.pk, revision, lambda: _pronunciation_entries_read(user.pk))


def _pronunciation_entries_read(user_id: int) -> tuple[PronunciationEntry, ...]:
    rows = Pronunciation.objects.filter(user_id=user_id).values_list(
        "word", "replacement", "case_sensitive", "whole_word"
    )
    return tuple(PronunciationEntry(*row) for row in rows)
