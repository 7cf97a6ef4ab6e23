"""The synthesis cache: an identical request is answered from stored audio with no engine work.

The key covers every parameter that changes the audio. The index (key -> the job whose audio answers it) lives in
Redis under its own prefix, so an operator can clear it without touching anything else in Redis; the audio itself
stays in storage with the job that made it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import unicodedata
import uuid
from collections import deque

from django.conf import settings
from django.core.cache import cache

from core.exceptions import is_backend_outage

from .models import JobStatus, SynthesisJob

logger = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s+")
CACHE_NAMESPACE = "synth"
CACHE_KEY_VERSION = 1


def text_canonical(text: str) -> str:
    """Unicode NFC with whitespace runs collapsed to one space and the ends trimmed (not English normalisation:
    that is `textnorm.normalize`)."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


# Letters, marks on them, digits, punctuation and symbols: what an engine can say or pause on. Everything else
# (spaces, controls, format characters such as U+200B zero width space, U+FEFF, U+2060, the soft hyphen, direction
# marks; unassigned and private-use code points) is invisible, and a text made only of it has nothing to say.
_SPEAKABLE_CATEGORIES = ("L", "N", "P", "S")


def text_is_empty(text: str) -> bool:
    """True when `text` has nothing to say: no letter, digit, punctuation or symbol (a combining mark counts only
    on something else). The one test behind `text_empty`, for the text sent and for the spoken text."""
    return not any(unicodedata.category(char)[0] in _SPEAKABLE_CATEGORIES for char in text)


def cache_key_for(
    *,
    text: str,
    voice_id: str,
    voice_version: int,
    engine: str,
    model_id: str,
    model_revision: str,
    speed: float,
    output_format: str,
    sample_rate: int,
    seed: int | None,
    watermark: bool,
    bitrate: int | None = None,
    scope: str = "global",
) -> str:
    """SHA-256 over a canonical JSON of every parameter that changes the audio. `text` is the spoken text (what
    the engine reads, after the account's pronunciations and normalisation), so a dictionary change that changes
    what is said changes the key too.

    `scope` partitions the cache: one account's text is never answered from (or timed against) another
    account's audio unless the operator chose a global cache.
    """
    material = {
        "v": CACHE_KEY_VERSION,
        "scope": scope,
        "text": text,
        "voice_id": voice_id,
        "voice_version": voice_version,
        "engine": engine,
        "model_id": model_id,
        "model_revision": model_revision,
        "speed": round(float(speed), 3),
        "format": output_format,
        "sample_rate": sample_rate,
        "seed": seed,
        "watermark": bool(watermark),
    }
    # Only formats with a bitrate (mp3) carry it, so the keys of every other format stay what they were before
    # bitrates existed and their cached audio keeps answering. (Earlier mp3 was variable-bitrate: those keys have
    # no bitrate, and a request now always has one, so they are never served for a constant-bitrate request.)
    if bitrate is not None:
        material["bitrate"] = int(bitrate)
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _entry(cache_key: str) -> str:
    return f"{CACHE_NAMESPACE}:{cache_key}"


def cache_lookup(cache_key: str) -> uuid.UUID | None:
    value = cache.get(_entry(cache_key))
    return uuid.UUID(value) if value else None


# Entries this process could not write because Redis was away, written by its next successful store. Bounded: an
# entry past the bound, or left when the process ends, is skipped (logged): the job keeps its audio, and the next
# identical request synthesizes again.
PENDING_MAX = 1000
_pending: deque[tuple[str, str]] = deque()
_pending_lock = threading.Lock()


def cache_store(cache_key: str, job_id: uuid.UUID) -> bool:
    """Index the job's audio under `cache_key`. With Redis out of reach, keep the entry for this process's next
    store and return False; any other error raises."""
    try:
        cache.set(_entry(cache_key), str(job_id), timeout=settings.TTS_CACHE_TTL)
    except Exception as exc:
        if not is_backend_outage(exc):
            raise
        with _pending_lock:
            if len(_pending) < PENDING_MAX:
                _pending.append((cache_key, str(job_id)))
            else:
                logger.warning("cache entry of job %s skipped: %d entries already wait for Redis", job_id, PENDING_MAX)
        return False
    cache_store_pending()
    return True


def cache_store_pending() -> int:
    """Write the entries kept while Redis was away; how many were written. An entry never replaces a newer one."""
    written = 0
    with _pending_lock:
        while _pending:
            cache_key, job_id = _pending[0]
            try:
                cache.add(_entry(cache_key), job_id, timeout=settings.TTS_CACHE_TTL)
            except Exception:
                logger.warning("%d cache entries still wait for Redis", len(_pending), exc_info=True)
                break
            _pending.popleft()
            written += 1
    if written:
        logger.info("wrote %d cache entries kept while Redis was unavailable", written)
    return written


def cache_forget(cache_key: str) -> None:
    cache.delete(_entry(cache_key))


def cache_forget_job(cache_key: str, job_id: uuid.UUID) -> None:
    """Drop the entry for `cache_key` if it still names `job_id` (a newer job may answer the key by now)."""
    if cache_lookup(cache_key) == job_id:
        cache_forget(cache_key)


def cache_clear() -> int:
    """Delete every synthesis cache entry (and nothing else); return how many there were."""
    return cache.delete_pattern(f"{CACHE_NAMESPACE}:*")


# ---------------------------------------------------------------------------------------------------------------
# Sources: the succeeded job an index entry names (read from the database)
# ---------------------------------------------------------------------------------------------------------------
def cached_source_id_for(cache_key: str) -> str | None:
    """The id the cache index gives for `cache_key` (Redis only; the row may be gone), or None."""
    try:
        return cache_lookup(cache_key)
    except Exception:  # the cache is an optimisation: with Redis away we synthesize instead
        logger.warning("synthesis cache unavailable", exc_info=True)
        return None


# What a cache hit copies from its source (a job row has ~50 columns, JSON among them).
HIT_FIELDS = ("id", "audio", "audio_bytes", "duration_seconds", "spoken_word_times")


def cached_source_get(
    cache_key: str, source_id, *, timestamps: bool = False, lock: bool = False, only: tuple[str, ...] = ()
):
    """The succeeded job `source_id` if its audio answers `cache_key`, else None, dropping the stale index entry.
    With `timestamps`, only a source whose words were timed answers (the entry stays for requests without them).
    With `lock`, the row is locked for the surrounding transaction (see `source_lock`); with `only`, just those
    fields are read."""
    rows = SynthesisJob.objects.select_for_update() if lock else SynthesisJob.objects
    if only:
        rows = rows.only(*only)
    # An expired job's audio is gone (its `audio` is cleared): its entry is dropped, never served.
    source = (
        rows.filter(pk=source_id, status=JobStatus.SUCCEEDED, cache_key=cache_key, audio_expired_at__isnull=True)
        .exclude(audio="")
        .first()
    )
    if source is None:
        cache_forget(cache_key)
    if timestamps and source is not None and source.spoken_word_times is None:
        return None
    return source


def cached_source_for(cache_key: str, *, timestamps: bool = False) -> SynthesisJob | None:
    """The succeeded job whose audio answers `cache_key`, or None (see `cached_source_get`)."""
    source_id = cached_source_id_for(cache_key)
    return None if source_id is None else cached_source_get(cache_key, source_id, timestamps=timestamps)


def source_lock(source: SynthesisJob) -> SynthesisJob | None:
    """The cache source row locked for this transaction, if it still has its audio."""
    return (
        SynthesisJob.objects.select_for_update()
        .filter(pk=source.pk, audio_expired_at__isnull=True)
        .exclude(audio="")
        .first()
    )
