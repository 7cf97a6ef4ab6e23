"""Abuse counters and flags: request-rate anomalies per API key and per IP, and the `AbuseFlag` every detector
raises for an operator to review (the consent-activity check lives in `voices.abuse`, the storage-growth check in
`ops.abuse_checks`). Optionally (ABUSE_AUTO_THROTTLE) a key or address with a rate anomaly is refused for a while.

Request counts live in Redis, one counter per subject per minute (INCR + EXPIRE in one pipeline per request). A
subject's baseline is the mean of its previous 60 minutes, never below ABUSE_RATE_FLOOR_PER_MINUTE; the current
minute is anomalous above ABUSE_RATE_FACTOR x baseline. The baseline is only read once a minute's count passes
FACTOR x FLOOR (nothing below that can be an anomaly), so ordinary traffic costs the one pipeline and nothing more.
Every function takes `now` (epoch seconds) so tests can drive the clock.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_redis import get_redis_connection

from .limits import LimitName, limit_value
from .models import AbuseFlag, AbuseFlagKind, AbuseFlagStatus, AbuseSubject

logger = logging.getLogger(__name__)

BASELINE_MINUTES = 60
# Counters live a little longer than the baseline window that reads them.
_COUNTER_TTL = (BASELINE_MINUTES + 2) * 60


@dataclass(frozen=True)
class Subject:
    type: str  # AbuseSubject
    id: str

    @property
    def slug(self) -> str:
        return f"{self.type}:{self.id}"


def _redis():
    return get_redis_connection("default")


def _prefix() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:abuse"


def _counter_key(subject: Subject, minute: int) -> str:
    return f"{_prefix()}:rate:{subject.slug}:{minute}"


def _throttle_key(subject: Subject) -> str:
    return f"{_prefix()}:throttle:{subject.slug}"


# ------------------------------------------------------------------------------------------------------------
# Flags
# ------------------------------------------------------------------------------------------------------------
def abuse_flag_raise(*, kind: str, subject: Subject, window: str, evidence: dict) -> AbuseFlag | None:
    """Record a finding once per subject and window (`window` names it: an hour, a day); None if already raised."""
    try:
        with transaction.atomic():
            flag = AbuseFlag.objects.create(
                kind=kind,
                subject_type=subject.type,
                subject_id=subject.id,
                evidence=evidence,
                dedupe_key=f"{kind}:{subject.slug}:{window}"[:200],
            )
    except IntegrityError:
        return None
    logger.warning("abuse flag %s on %s: %s", kind, subject.slug, evidence)
    return flag


def abuse_flag_review(*, flag: AbuseFlag, status: str, by, note: str = "") -> AbuseFlag:
    """Close a flag as dismissed or actioned, recording who reviewed it."""
    if status not in (AbuseFlagStatus.DISMISSED, AbuseFlagStatus.ACTIONED):
        raise ValueError(f"a reviewed flag is dismissed or actioned, not {status}")
    flag.status = status
    flag.reviewed_by = by
    flag.reviewed_at = timezone.now()
    if note:
        flag.review_note = note
    flag.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    return flag


# ------------------------------------------------------------------------------------------------------------
# Request rate
# ------------------------------------------------------------------------------------------------------------
def request_subjects(*, ip: str | None, api_key_prefix: str | None = None) -> list[Subject]:
    """The subjects a request counts against: its address, and its API key (by prefix: unique, shown in lists,
    and readable from the header without a query)."""
    subjects = []
    if ip:
        subjects.append(Subject(AbuseSubject.IP, ip))
    if api_key_prefix:
        subjects.append(Subject(AbuseSubject.API_KEY, api_key_prefix))
    return subjects


def throttled_for(subjects: list[Subject]) -> int:
    """Seconds left on the longest automatic throttle of any of the subjects (0: not throttled)."""
    if not subjects:
        return 0
    pipe = _redis().pipeline(transaction=False)
    for subject in subjects:
        pipe.ttl(_throttle_key(subject))
    return max(0, *(int(ttl) for ttl in pipe.execute()))


def requests_count(subjects: list[Subject], *, now: float | None = None) -> list[AbuseFlag]:
    """Count one request for each subject in the current minute; flag (and maybe throttle) any that spike.

    Returns the flags raised by this request (almost always none).
    """
    if not subjects:
        return []
    now = time.time() if now is None else now
    minute = int(now // 60)
    pipe = _redis().pipeline(transaction=False)
    for subject in subjects:
        key = _counter_key(subject, minute)
        pipe.incr(key)
        pipe.expire(key, _COUNTER_TTL)
    counts = pipe.execute()[::2]
    floor = limit_value(LimitName.ABUSE_RATE_FLOOR_PER_MINUTE)
    factor = limit_value(LimitName.ABUSE_RATE_FACTOR)
    flags = []
    for subject, count in zip(subjects, counts, strict=True):
        if count > factor * floor:  # below this no baseline can make it an anomaly
            flag = _rate_check(subject, minute=minute, count=int(count), now=now)
            if flag is not None:
                flags.append(flag)
    return flags


def rate_baseline(subject: Subject, *, minute: int) -> float:
    """Mean requests per minute over the 60 minutes before `minute` (missing minutes count as 0)."""
    keys = [_counter_key(subject, minute - back) for back in range(1, BASELINE_MINUTES + 1)]
    values = _redis().mget(keys)
    return sum(int(value or 0) for value in values) / BASELINE_MINUTES


# A busy subject passes FACTOR x FLOOR on every request of a minute; its baseline is read from Redis once per
# minute per process, not on each of them. Keyed by minute; the previous minute's entries are dropped.
_baseline_memo: dict[tuple[str, int], float] = {}


def _baseline_memoized(subject: Subject, minute: int) -> float:
    key = (subject.slug, minute)
    if key not in _baseline_memo:
        if any(cached_minute != minute for _slug, cached_minute in list(_baseline_memo)[:1]):
            _baseline_memo.clear()
        _baseline_memo[key] = rate_baseline(subject, minute=minute)
    return _baseline_memo[key]


def _rate_check(subject: Subject, *, minute: int, count: int, now: float) -> AbuseFlag | None:
    baseline = _baseline_memoized(subject, minute)
    effective = max(baseline, limit_value(LimitName.ABUSE_RATE_FLOOR_PER_MINUTE))
    if count <= limit_value(LimitName.ABUSE_RATE_FACTOR) * effective:
        return None
    hour = datetime.fromtimestamp(now, tz=UTC).strftime("%Y%m%d%H")
    # Cheap de-duplication before the database's: one SET NX per subject and hour.
    if not _redis().set(f"{_prefix()}:flagged:{subject.slug}:{hour}", 1, nx=True, ex=3700):
        return None
    throttle = settings.ABUSE_AUTO_THROTTLE
    if throttle:
        _redis().set(_throttle_key(subject), 1, ex=settings.ABUSE_THROTTLE_SECONDS)
    return abuse_flag_raise(
        kind=AbuseFlagKind.RATE_SPIKE,
        subject=subject,
        window=hour,
        evidence={
            "requests_this_minute": count,
            "baseline_per_minute": round(baseline, 2),
            "floor_per_minute": limit_value(LimitName.ABUSE_RATE_FLOOR_PER_MINUTE),
            "factor": limit_value(LimitName.ABUSE_RATE_FACTOR),
            "minute_start": datetime.fromtimestamp(minute * 60, tz=UTC).isoformat(),
            "throttled_seconds": settings.ABUSE_THROTTLE_SECONDS if throttle else 0,
        },
    )


def throttle_lift(subject: Subject) -> None:
    _redis().delete(_throttle_key(subject))
