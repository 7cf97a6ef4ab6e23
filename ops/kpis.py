"""The runbook's KPIs: 5-minute rollups written by a periodic task, and the figures the ops panel shows for a
window (last hour, 24 h, 7 days) against each KPI's target and alert threshold.

Definitions (all over jobs that *finished* in the window; cancelled jobs are left out):
- latency: queued → finished of succeeded jobs that ran an engine (cache hits answer at once and are counted by
  the cache hit rate instead); p50 / p95 are the nearest-rank percentiles of those jobs' own latencies in the
  window (`ops.latency`), never a histogram edge: an operator compares them with the slowest job they
  saw. The rollups keep a histogram for the record; nothing shown or alerted on reads it;
- cache hit rate: succeeded jobs answered from the cache / succeeded jobs;
- error rate: failed / finished; OOMs: jobs failed with gpu_out_of_memory;
- clone success rate: cloned jobs that succeeded with an output-to-voice similarity at or above
  CLONE_SUCCESS_THRESHOLD (or not measurable) and a word error rate at or below INTELLIGIBILITY_WER_THRESHOLD /
  cloned jobs finished. A succeeded job counts only once its WER is known (synthesis.intelligibility scores it
  seconds after it succeeds): until then, or where scoring failed, it counts neither way. A failed job counts as
  a failure. A late score lands in its job's bucket: the rollups recompute the buckets of jobs scored lately.
  `clone_quality` gives the parts (similarity pass rate, intelligibility pass rate) and the built-in voices' WER
  (a sample of their jobs) beside the cloned voices', straight from the jobs;
- revenue per GPU-hour: revenue entries (paid invoices minus refunds and lost disputes) / GPU engine hours;
- refunds/chargebacks: refunds and disputes recorded (PaymentIncident).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from billing.selectors import revenue_for
from synthesis.models import JobStatus, SynthesisJob

from .latency import engine_jobs, latency_percentiles, percentile_of
from .models import KpiRollup

BUCKET = timedelta(minutes=5)
# Upper bounds (seconds) of the latency histogram; the last bucket is everything above.
LATENCY_BOUNDS = [
    0.25,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    2.5,
    3.0,
    3.5,
    4.0,
    5.0,
    6.0,
    8.0,
    10.0,
    15.0,
    20.0,
    30.0,
    60.0,
    120.0,
]
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


def bucket_floor(moment: datetime) -> datetime:
    seconds = int(BUCKET.total_seconds())
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, tz=moment.tzinfo)


def gpu_engines() -> list[str]:
    return [engine for engine, queue in settings.SPEECH_ENGINE_QUEUES.items() if queue.endswith("gpu")]


def revenue_per_gpu_hour(*, since, until) -> dict:
    """Revenue (paid invoices minus refunds and lost disputes) over GPU engine hours, in one window, straight from
    the jobs and revenue entries (the panel's tiles read the rollups instead).

    `per_gpu_hour` is None when no GPU time was spent. Amounts are in the currency's main unit; a deployment
    charges in one currency (the plans'), so entries in others are left out and counted.
    """
    revenue = revenue_for(since=since, until=until)
    seconds = (
        SynthesisJob.objects.filter(engine__in=gpu_engines(), finished_at__gte=since, finished_at__lt=until).aggregate(
            total=Sum("engine_seconds")
        )["total"]
        or 0.0
    )
    hours = seconds / 3600
    return {
        "currency": revenue["currency"],
        "revenue": revenue["cents"] / 100,
        "gpu_hours": hours,
        "per_gpu_hour": (revenue["cents"] / 100) / hours if hours else None,
        "other_currency_entries": revenue["other_currency_entries"],
    }


# ---------------------------------------------------------------------------------------------------------------
# Clone success and its parts
# ---------------------------------------------------------------------------------------------------------------
# A finished cloned job counts once it failed, or succeeded and has its WER.
CLONE_COUNTED = Q(status=JobStatus.FAILED) | Q(status=JobStatus.SUCCEEDED, intelligibility_wer__isnull=False)


def clone_sounds_like() -> Q:
    """Succeeded, and sounds like the voice (or its similarity could not be measured)."""
    similar = Q(clone_similarity__isnull=True) | Q(clone_similarity__gte=settings.CLONE_SUCCESS_THRESHOLD)
    return Q(status=JobStatus.SUCCEEDED) & similar


def clone_understood() -> Q:
    """Succeeded, and the recogniser understood it."""
    return Q(status=JobStatus.SUCCEEDED, intelligibility_wer__lte=settings.INTELLIGIBILITY_WER_THRESHOLD)


def clone_quality(*, since: datetime, until: datetime) -> dict:
    """The parts of clone success in a window, from the jobs (cloned ones and the few scored built-in ones, by two
    partial indexes): counted cloned jobs (CLONE_COUNTED), how many pass each part and both, and the mean WER of
    cloned and of built-in voices' scored outputs. Rates are None without counted jobs."""
    window = Q(finished_at__gte=since, finished_at__lt=until)
    cloned = SynthesisJob.objects.filter(window, voice_kind="cloned").aggregate(
        counted=Count("pk", filter=CLONE_COUNTED),
        similar=Count("pk", filter=CLONE_COUNTED & clone_sounds_like()),
        understood=Count("pk", filter=clone_understood()),
        both=Count("pk", filter=clone_sounds_like() & clone_understood()),
        scored=Count("intelligibility_wer"),
        wer=Avg("intelligibility_wer"),
    )
    builtin = (
        SynthesisJob.objects.filter(window, intelligibility_scored_at__isnull=False)
        .exclude(voice_kind="cloned")
        .aggregate(scored=Count("intelligibility_wer"), wer=Avg("intelligibility_wer"))
    )
    counted = cloned["counted"]

    def rate(passed: int) -> float | None:
        return passed / counted if counted else None

    return {
        "clone_jobs": counted,
        "clone_similarity_pass_rate": rate(cloned["similar"]),
        "clone_intelligibility_pass_rate": rate(cloned["understood"]),
        "clone_success_rate": rate(cloned["both"]),
        "clone_scored": cloned["scored"],
        "clone_wer_mean": cloned["wer"],
        "builtin_scored": builtin["scored"],
        "builtin_wer_mean": builtin["wer"],
        "similarity_threshold": settings.CLONE_SUCCESS_THRESHOLD,
        "wer_threshold": settings.INTELLIGIBILITY_WER_THRESHOLD,
    }


def clone_quality_window(window: str, *, now: datetime | None = None) -> dict:
    """`clone_quality` over the last `window`, with `display` strings for the panel."""
    now = now or timezone.now()
    quality = clone_quality(since=now - WINDOWS[window], until=now)
    rates = ("clone_similarity_pass_rate", "clone_intelligibility_pass_rate", "clone_success_rate")
    display = {key: _display(quality[key], "%") for key in rates}
    display |= {
        key: "no data" if quality[key] is None else f"{quality[key]:.3f}"
        for key in ("clone_wer_mean", "builtin_wer_mean")
    }
    return quality | {"display": display}


# ---------------------------------------------------------------------------------------------------------------
# Windows and tiles
# ---------------------------------------------------------------------------------------------------------------
def _merge(rollups) -> dict:
    merged = {
        "jobs_finished": 0,
        "jobs_failed": 0,
        "cache_hits": 0,
        "clone_jobs": 0,
        "clone_successes": 0,
        "oom_count": 0,
        "gpu_seconds": 0.0,
        "revenue_cents": 0,
        "incidents": 0,
    }
    histogram = [0] * (len(LATENCY_BOUNDS) + 1)
    for rollup in rollups:
        for field in merged:
            merged[field] += getattr(rollup, field)
        for index, count in enumerate(rollup.latency_histogram or []):
            histogram[index] += count
    merged["latency_histogram"] = histogram
    return merged


def figures(merged: dict) -> dict:
    """The KPI values of merged rollups, with the latency percentiles put in by the caller (None where there is
    nothing to compute from)."""
    succeeded = merged["jobs_finished"] - merged["jobs_failed"]
    gpu_hours = merged["gpu_seconds"] / 3600
    return {
        "revenue_per_gpu_hour": (merged["revenue_cents"] / 100) / gpu_hours if gpu_hours else None,
        "cache_hit_rate": merged["cache_hits"] / succeeded if succeeded else None,
        "latency_p50": merged.get("latency_p50"),
        "latency_p95": merged.get("latency_p95"),
        "clone_success_rate": merged["clone_successes"] / merged["clone_jobs"] if merged["clone_jobs"] else None,
        "refunds_chargebacks": merged["incidents"],
        "error_rate": merged["jobs_failed"] / merged["jobs_finished"] if merged["jobs_finished"] else None,
        "oom_count": merged["oom_count"],
        "jobs_finished": merged["jobs_finished"],
        "revenue": merged["revenue_cents"] / 100,
        "gpu_hours": gpu_hours,
    }


def window_figures(window: str, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    rollups = KpiRollup.objects.filter(bucket_start__gte=bucket_floor(now - WINDOWS[window]))
    latency = latency_percentiles(since=now - WINDOWS[window], until=now)
    return figures(_merge(rollups) | {"latency_p50": latency[0.5], "latency_p95": latency[0.95]})


@dataclass(frozen=True)
class KpiSpec:
    key: str
    label: str
    unit: str  # "$/h", "%", "s", "count"
    target: float
    alert: float
    higher_is_better: bool
    target_text: str
    alert_text: str

    def status(self, value) -> str:
        """ "ok" (meets the target), "warn" (between target and alert) or "alert"; "none" without data."""
        if value is None:
            return "none"
        if self.higher_is_better:
            return "ok" if value >= self.target else ("alert" if value < self.alert else "warn")
        return "ok" if value <= self.target else ("alert" if value > self.alert else "warn")


KPI_SPECS = [
    KpiSpec("revenue_per_gpu_hour", "Revenue per GPU-hour", "$/h", 30, 20, True, "≥ $30/h", "< $20/h"),
    KpiSpec("cache_hit_rate", "Cache hit rate", "%", 0.40, 0.30, True, "≥ 40%", "< 30%"),
    KpiSpec("latency_p50", "p50 latency", "s", 3.5, 4.0, False, "≤ 3.5 s", "> 4 s"),
    KpiSpec("latency_p95", "p95 latency", "s", 6.0, 6.0, False, "< 6 s", "> 6 s for 10 min"),
    KpiSpec("clone_success_rate", "Clone success rate", "%", 0.98, 0.95, True, "> 98%", "< 95%"),
    KpiSpec("refunds_chargebacks", "Refunds / chargebacks", "count", 0, 0, False, "= 0", "> 0"),
    KpiSpec("error_rate", "Error rate", "%", 0.01, 0.05, False, "≤ 1%", "> 5%"),
    KpiSpec("oom_count", "GPU out-of-memory", "count", 0, 0, False, "= 0", "> 0"),
]


def p95_alert_sustained(*, now: datetime | None = None, minutes: int = 10) -> bool:
    """The runbook's p95 alert: above 6 s in every 5-minute bucket of the last `minutes` that had traffic (at
    least one), from the jobs' own latencies."""
    now = now or timezone.now()
    start, p95s = bucket_floor(now - timedelta(minutes=minutes)), []
    while start < now:
        p95 = latency_percentiles(since=start, until=min(start + BUCKET, now), qs=(0.95,))[0.95]
        if p95 is not None:
            p95s.append(p95)
        start += BUCKET
    return bool(p95s) and all(value > 6.0 for value in p95s)


def kpi_tiles(window: str, *, now: datetime | None = None) -> list[dict]:
    values = window_figures(window, now=now)
    tiles = []
    for spec in KPI_SPECS:
        value = values[spec.key]
        status = spec.status(value)
        if spec.key == "latency_p95" and status == "alert" and not p95_alert_sustained(now=now):
            status = "warn"  # above 6 s, but not for 10 minutes yet
        tiles.append(
            {
                "key": spec.key,
                "label": spec.label,
                "value": value,
                "display": _display(value, spec.unit),
                "target": spec.target_text,
                "alert": spec.alert_text,
                "status": status,
            }
        )
    return tiles


def _display(value, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "%":
        return f"{value * 100:.1f}%"
    if unit == "$/h":
        return f"${value:,.2f}/h"
    if unit == "s":
        return f"{value:.2f} s"
    return str(int(value))


def kpi_series(*, now: datetime | None = None, days: int = 7) -> dict:
    """Hourly points over `days` for the panel's charts, from the rollups."""
    now = now or timezone.now()
    start = bucket_floor(now - timedelta(days=days)).replace(minute=0)
    by_hour: dict[datetime, list] = {}
    for rollup in KpiRollup.objects.filter(bucket_start__gte=start).order_by("bucket_start"):
        by_hour.setdefault(rollup.bucket_start.replace(minute=0), []).append(rollup)
    hours, hour = [], start
    while hour <= now:
        hours.append(hour)
        hour += timedelta(hours=1)
    latencies: dict[datetime, list[float]] = {}
    for finished_at, latency in engine_jobs(since=start, until=now).values_list("finished_at", "latency"):
        hour = finished_at.astimezone(start.tzinfo).replace(minute=0, second=0, microsecond=0)
        latencies.setdefault(hour, []).append(latency.total_seconds())
    series = {"t": [], "latency_p50": [], "latency_p95": [], "cache_hit_rate": [], "error_rate": [], "jobs": []}
    for hour in hours:
        values = figures(_merge(by_hour.get(hour, [])))
        series["t"].append(int(hour.timestamp()))
        series["latency_p50"].append(percentile_of(latencies.get(hour, []), 0.5))
        series["latency_p95"].append(percentile_of(latencies.get(hour, []), 0.95))
        series["cache_hit_rate"].append(None if values["cache_hit_rate"] is None else values["cache_hit_rate"] * 100)
        series["error_rate"].append(None if values["error_rate"] is None else values["error_rate"] * 100)
        series["jobs"].append(values["jobs_finished"])
    return series
