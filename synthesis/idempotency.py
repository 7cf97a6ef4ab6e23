"""`Idempotency-Key` on the job-creating endpoints (POST /v1/tts, /v1/tts/stream, /v1/audio/speech), as Stripe
defines it: a client that retries a request whose answer it never got sends the same key, and gets the first
request's job instead of a second job and a second charge.

- A key is scoped to the account (another account's identical key is unrelated), at most 255 characters, and lives
  24 hours; an older key is forgotten (at its next use, and by the hourly purge) and starts a new request.
- The same key with another request (another endpoint or another body) is 409 `idempotency_key_reused`.
- Only a request that created a job is remembered. One refused before (validation, quota, limits) stores nothing,
  and a retry with the same key is a new attempt, as Stripe does for requests that fail validation.
- Parallel requests with one key: the key row is the first write of the job's transaction and is unique per
  account, so one transaction wins; the others roll back whole (no job, no ledger entry) and answer the winner's
  job. (Stripe answers these with 409; a job is the request's result, so we can answer it.)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from core.exceptions import InvalidRequest

from .errors import IdempotencyKeyReused
from .models import IdempotencyKey, SynthesisJob

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
KEY_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class IdempotentRequest:
    """A request sent with an Idempotency-Key: the key and what the request asked for (endpoint and body)."""

    key: str
    fingerprint: str


def request_fingerprint(*, path: str, data: Any) -> str:
    """SHA-256 over the endpoint and the parsed JSON body, key order ignored: the same request, however its JSON
    was laid out."""
    canonical = json.dumps(
        {"path": path, "body": data}, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_request_from(request) -> IdempotentRequest | None:
    """The request's Idempotency-Key with its fingerprint, or None without the header; 400 `invalid_request` for a
    key that is empty, longer than 255 characters or holds control characters."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key or len(key) > KEY_MAX_LENGTH or any(ord(char) < 32 or ord(char) == 127 for char in key):
        raise InvalidRequest(
            f"{IDEMPOTENCY_HEADER} must be 1 to {KEY_MAX_LENGTH} printable characters (a V4 UUID is a good key).",
            detail={"header": IDEMPOTENCY_HEADER, "max_length": KEY_MAX_LENGTH, "length": len(key)},
        )
    return IdempotentRequest(key=key, fingerprint=request_fingerprint(path=request.path, data=request.data))


def _cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - KEY_LIFETIME


def idempotent_job_find(*, user, request: IdempotentRequest) -> SynthesisJob | None:
    """The job a live key of this account already created for this request; None when the key is new (or
    expired). Raises `IdempotencyKeyReused` when the key was used for a different request."""
    row = (
        IdempotencyKey.objects.filter(user=user, key=request.key, created_at__gte=_cutoff(), job__isnull=False)
        .select_related("job")
        .first()
    )
    if row is None:
        return None
    if row.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused(detail={"job_id": str(row.job_id)})
    return row.job


def idempotency_key_claim(*, user, request: IdempotentRequest) -> IdempotencyKey:
    """Insert the key for this account. Call first in the transaction that creates the job: a parallel request
    with the same key waits here (PostgreSQL) or finds it committed (SQLite) and gets an IntegrityError, which
    rolls its whole transaction back. An expired row with the same key is replaced."""
    IdempotencyKey.objects.filter(user=user, key=request.key, created_at__lt=_cutoff()).delete()
    return IdempotencyKey.objects.create(user=user, key=request.key, fingerprint=request.fingerprint)


def idempotency_key_bind(*, claim: IdempotencyKey, job: SynthesisJob) -> None:
    """Point the claimed key at the job it created (same transaction as the claim)."""
    IdempotencyKey.objects.filter(pk=claim.pk).update(job=job, updated_at=timezone.now())


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Forget keys older than their lifetime; how many were deleted (beat, hourly)."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=_cutoff(now)).delete()
    return deleted
