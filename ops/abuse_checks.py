"""Storage growth spikes per account, checked by a periodic task (`ops.check_storage_growth`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import User
from controls.abuse import Subject, abuse_flag_raise
from controls.limits import LimitName, limit_value
from controls.models import AbuseFlag, AbuseFlagKind, AbuseSubject
from synthesis.models import SynthesisJob
from voices.models import VoiceProfile


def _file_size(field_file) -> int:
    try:
        return field_file.storage.size(field_file.name) if field_file else 0
    except (OSError, NotImplementedError):
        return 0  # deleted since (lifecycle, the customer): it no longer takes space


def _stored_bytes_by_user(start: datetime, end: datetime) -> dict[int, int]:
    """Bytes each account stored in [start, end): engine-made audio (cache hits share their source's file, so they
    do not count) and the voice recordings (sample and consent) of profiles created then."""
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
        limit = limit_value(LimitName.ABUSE_STORAGE_FACTOR) * max(
            mean, limit_value(LimitName.ABUSE_STORAGE_FLOOR_BYTES)
        )
        if stored <= limit or user_id not in public_ids:
            continue
        flag = abuse_flag_raise(
            kind=AbuseFlagKind.STORAGE_SPIKE,
            subject=Subject(AbuseSubject.USER, str(public_ids[user_id])),
            window=now.strftime("%Y%m%d"),
            evidence={
                "bytes_24h": stored,
                "daily_mean_bytes_previous_7d": round(mean),
                "floor_bytes": limit_value(LimitName.ABUSE_STORAGE_FLOOR_BYTES),
                "factor": limit_value(LimitName.ABUSE_STORAGE_FACTOR),
            },
        )
        if flag is not None:
            flags.append(flag)
    return flags
