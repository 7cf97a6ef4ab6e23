"""Writing the KPI rollups (`ops.models.KpiRollup`): one row per 5-minute bucket, from the jobs and payments that
finished or happened in it. `ops.kpis` reads them; the definitions of the figures are there."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta

from django.db.models import Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone

from billing.models import PaymentIncident, RevenueEntry
from synthesis.errors import JobErrorCode
from synthesis.models import JobStatus, SynthesisJob

from .kpis import BUCKET, CLONE_COUNTED, LATENCY_BOUNDS, bucket_floor, clone_sounds_like, clone_understood, gpu_engines
from .models import KpiRollup

FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)  # cancelled jobs are left out of every figure


def rollup_bucket(start: datetime) -> KpiRollup:
    """(Re)compute one bucket from the jobs and payments in it. Idempotent."""
    end = start + BUCKET
    finished = SynthesisJob.objects.filter(finished_at__gte=start, finished_at__lt=end, status__in=FINISHED)
    succeeded = finished.filter(status=JobStatus.SUCCEEDED)
    histogram = [0] * (len(LATENCY_BOUNDS) + 1)
    for queued_at, finished_at in succeeded.filter(cached=False, live=False).values_list("queued_at", "finished_at"):
        histogram[bisect.bisect_left(LATENCY_BOUNDS, (finished_at - queued_at).total_seconds())] += 1
    cloned = finished.filter(voice_kind="cloned").filter(CLONE_COUNTED)
    values = {
        "jobs_finished": finished.count(),
        "jobs_failed": finished.filter(status=JobStatus.FAILED).count(),
        "cache_hits": succeeded.filter(cached=True).count(),
        "clone_jobs": cloned.count(),
        "clone_successes": cloned.filter(clone_sounds_like(), clone_understood()).count(),
        "oom_count": finished.filter(error_code=JobErrorCode.GPU_OUT_OF_MEMORY).count(),
        "gpu_seconds": finished.filter(engine__in=gpu_engines()).aggregate(total=Sum("engine_seconds"))["total"] or 0.0,
        "revenue_cents": RevenueEntry.objects.filter(occurred_at__gte=start, occurred_at__lt=end).aggregate(
            total=Sum("amount_cents")
        )["total"]
        or 0,
        "incidents": PaymentIncident.objects.filter(occurred_at__gte=start, occurred_at__lt=end).count(),
        "latency_histogram": histogram,
    }
    rollup, _ = KpiRollup.objects.update_or_create(bucket_start=start, defaults=values)
    return rollup


def _occupied(buckets: list[datetime]) -> set[datetime]:
    """Which of `buckets` hold a finished job, a revenue entry or a payment incident: three reads over their span
    (distinct minutes, so at most 10,080 rows a week) instead of eleven per bucket."""
    if not buckets:
        return set()
    since, until = min(buckets), max(buckets) + BUCKET
    minutes = set()
    for model, field, extra in (
        (SynthesisJob, "finished_at", {"status__in": FINISHED}),
        (RevenueEntry, "occurred_at", {}),
        (PaymentIncident, "occurred_at", {}),
    ):
        rows = model.objects.filter(**{f"{field}__gte": since, f"{field}__lt": until}, **extra)
        minutes |= set(rows.annotate(minute=TruncMinute(field, tzinfo=UTC)).values_list("minute", flat=True))
    return {bucket_floor(minute) for minute in minutes} & set(buckets)


def rollups_refresh(*, now: datetime | None = None, backfill: timedelta = timedelta(days=7), limit: int = 300) -> int:
    """Recompute the current and previous buckets, and fill (newest first) up to `limit` buckets missing within
    `backfill`. Returns how many buckets were written. A missing bucket in which nothing happened is written with
    zeros in batched INSERTs (a first refresh backfills a week: 2,016 buckets, most of them empty)."""
    now = now or timezone.now()
    current = bucket_floor(now)
    wanted = {current, current - BUCKET, current - 2 * BUCKET}  # late finishes and clock skew land here
    # Cloned jobs scored for intelligibility lately (a backlog on the queue can delay a score past the buckets
    # above); built-in voices' scores are read from the jobs (clone_quality), not the rollups.
    scored_lately = SynthesisJob.objects.filter(
        intelligibility_scored_at__gte=now - 3 * BUCKET, finished_at__gte=now - backfill, voice_kind="cloned"
    ).values_list("finished_at", flat=True)
    wanted |= {bucket_floor(finished_at) for finished_at in scored_lately}
    have = set(KpiRollup.objects.filter(bucket_start__gte=current - backfill).values_list("bucket_start", flat=True))
    oldest, bucket = bucket_floor(now - backfill), current - 3 * BUCKET
    missing = []
    while bucket >= oldest and len(missing) < limit:
        if bucket not in have:
            missing.append(bucket)
        bucket -= BUCKET
    occupied = _occupied(missing)
    for start in sorted(wanted) + [start for start in missing if start in occupied]:
        rollup_bucket(start)
    empty = [start for start in missing if start not in occupied and start not in wanted]
    # (ignore_conflicts: another refresh that wrote one of them meanwhile wrote the same zeros)
    KpiRollup.objects.bulk_create(
        [KpiRollup(bucket_start=start, latency_histogram=[0] * (len(LATENCY_BOUNDS) + 1)) for start in empty],
        batch_size=500,
        ignore_conflicts=True,
    )
    return len(wanted) + len(missing)
