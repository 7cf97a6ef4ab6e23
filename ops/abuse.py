"""Abuse detection: request-rate anomalies per API key and per IP, storage growth spikes per account, and many
consent challenges or voice profiles from one address. Each finding is an `AbuseFlag` for an operator to review;
optionally (ABUSE_AUTO_THROTTLE) a key or address with a rate anomaly is also refused for a while.

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
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django_redis import get_redis_connection

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
    floor = settings.ABUSE_RATE_FLOOR_PER_MINUTE
    factor = settings.ABUSE_RATE_FACTOR
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
    effective = max(baseline, settings.ABUSE_RATE_FLOOR_PER_MINUTE)
    if count <= settings.ABUSE_RATE_FACTOR * effective:
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
            "floor_per_minute": settings.ABUSE_RATE_FLOOR_PER_MINUTE,
            "factor": settings.ABUSE_RATE_FACTOR,
            "minute_start": datetime.fromtimestamp(minute * 60, tz=UTC).isoformat(),
            "throttled_seconds": settings.ABUSE_THROTTLE_SECONDS if throttle else 0,
        },
    )


def throttle_lift(subject: Subject) -> None:
    _redis().delete(_throttle_key(subject))


# ------------------------------------------------------------------------------------------------------------
# Consent challenges and voice profiles per address
# ------------------------------------------------------------------------------------------------------------
def consent_activity_check(*, ip: str | None, now: datetime | None = None) -> list[AbuseFlag]:
    """Flag an address that asked for too many consent challenges, or made too many voice profiles, in 24 h."""
    from voices.models import ConsentChallenge, ConsentRecord

    if not ip:
        return []
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    subject = Subject(AbuseSubject.IP, ip)
    window = now.strftime("%Y%m%d")
    flags = []
    challenges = ConsentChallenge.objects.filter(ip_address=ip, created_at__gt=since).count()
    if challenges > settings.ABUSE_CONSENT_ATTEMPTS_PER_DAY:
        flags.append(
            abuse_flag_raise(
                kind=AbuseFlagKind.CONSENT_ATTEMPTS,
                subject=subject,
                window=window,
                evidence={"challenges_24h": challenges, "limit": settings.ABUSE_CONSENT_ATTEMPTS_PER_DAY},
            )
        )
    profiles = ConsentRecord.objects.filter(ip_address=ip, created_at__gt=since)
    if (count := profiles.count()) > settings.ABUSE_PROFILES_PER_IP:
        flags.append(
            abuse_flag_raise(
                kind=AbuseFlagKind.PROFILES_PER_IP,
                subject=subject,
                window=window,
                evidence={
                    "profiles_24h": count,
                    "limit": settings.ABUSE_PROFILES_PER_IP,
                    "accounts": sorted(set(profiles.values_list("user_email", flat=True)))[:20],
                },
            )
        )
    return [flag for flag in flags if flag is not None]


# ------------------------------------------------------------------------------------------------------------
# Storage growth
# ------------------------------------------------------------------------------------------------------------
def _file_size(field_file) -> int:
    try:
        return field_file.storage.size(field_file.name) if field_file else 0
    except (OSError, NotImplementedError):
        return 0  # deleted since (lifecycle, the customer): it no longer takes space


def _stored_bytes_by_user(start: datetime, end: datetime) -> dict[int, int]:
    """Bytes each account stored in [start, end): engine-made audio (cache hits share their source's file, so they
    do not count) and the voice recordings (sample and consent) of profiles created then."""
    from synthesis.models import SynthesisJob
    from voices.models import VoiceProfile

    totals: dict[int, int] = {}
    jobs = (
        SynthesisJob.objects.filter(created_at__gte=start, created_at__lt=end, cached=False)
        .exclude(Q(audio="") | Q(audio__isnull=True))
        .values("user_id")
        .annotate(total=Sum("audio_bytes"))
    )
    for row in jobs:
        totals[row["user_id"]] = totals.get(row["user_id"], 0) + int(row["total"] or 0)
    profiles = VoiceProfile.objects.filter(created_at__gte=start, created_at__lt=end).select_related("consent")
    for profile in profiles:
        size = getattr(profile, "sample_bytes", None)
        if size is None:  # no size column: ask the storage (voice profiles are few)
            size = _file_size(profile.sample) + _file_size(profile.consent.consent_audio)
        totals[profile.user_id] = totals.get(profile.user_id, 0) + int(size)
    return totals


def storage_growth_check(*, now: datetime | None = None) -> list[AbuseFlag]:
    """Flag accounts whose bytes stored in the last 24 h exceed ABUSE_STORAGE_FACTOR x their daily mean over the
    7 days before (floored at ABUSE_STORAGE_FLOOR_BYTES, so a new or quiet account is not a spike by itself)."""
    from accounts.models import User

    now = now or timezone.now()
    day_start = now - timedelta(hours=24)
    recent = _stored_bytes_by_user(day_start, now)
    if not recent:
        return []
    before = _stored_bytes_by_user(day_start - timedelta(days=7), day_start)
    public_ids = dict(User.objects.filter(pk__in=recent).values_list("pk", "public_id"))
    flags = []
    for user_id, stored in recent.items():
        mean = before.get(user_id, 0) / 7
        limit = settings.ABUSE_STORAGE_FACTOR * max(mean, settings.ABUSE_STORAGE_FLOOR_BYTES)
        if stored <= limit or user_id not in public_ids:
            continue
        flag = abuse_flag_raise(
            kind=AbuseFlagKind.STORAGE_SPIKE,
            subject=Subject(AbuseSubject.USER, str(public_ids[user_id])),
            window=now.strftime("%Y%m%d"),
            evidence={
                "bytes_24h": stored,
                "daily_mean_bytes_previous_7d": round(mean),
                "floor_bytes": settings.ABUSE_STORAGE_FLOOR_BYTES,
                "factor": settings.ABUSE_STORAGE_FACTOR,
            },
        )
        if flag is not None:
            flags.append(flag)
    return flags
