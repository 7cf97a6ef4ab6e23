"""Latency percentiles of synthesis jobs, from the jobs' own latencies: the one definition the ops panel's tiles,
its chart, the p95 alert and /metrics share (see ops/kpis.py for the KPIs around it).

A percentile is the nearest-rank value over the latencies (queued -> finished) of succeeded jobs that ran an
engine (cache hits answer at once and are left out) and finished in [since, until). It is a latency some job
really had, never a histogram bucket edge.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.db import connection
from django.db.models import Aggregate, DurationField, ExpressionWrapper, F

from synthesis.models import JobStatus, SynthesisJob


def percentile_rank(count: int, q: float) -> int:
    """The 1-based rank of the q-th percentile among `count` sorted values (nearest-rank method)."""
    return max(1, math.ceil(q * count))


def engine_jobs(*, since: datetime, until: datetime):
    # (not a live job: it lasts as long as its websocket context; its pieces are the synthesis, counted here)
    return SynthesisJob.objects.filter(
        status=JobStatus.SUCCEEDED, cached=False, live=False, finished_at__gte=since, finished_at__lt=until
    ).annotate(latency=ExpressionWrapper(F("finished_at") - F("queued_at"), output_field=DurationField()))


class _PercentilesDisc(Aggregate):
    """PostgreSQL's `percentile_disc(ARRAY[...]) WITHIN GROUP (ORDER BY ...)`: for each fraction q the first value
    whose position k in the order has k/n >= q, i.e. rank ceil(q * n): the nearest rank, all of them in one sort."""

    function = "percentile_disc"
    template = "%(function)s(ARRAY[%(fractions)s]::float8[]) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, *, fractions: tuple[float, ...]):
        from django.contrib.postgres.fields import ArrayField

        super().__init__(expression, output_field=ArrayField(DurationField()))
        self.extra["fractions"] = ", ".join(repr(float(q)) for q in fractions)


def latency_percentiles(*, since: datetime, until: datetime, qs: tuple[float, ...] = (0.5, 0.95)) -> dict:
    """{q: seconds or None} for the jobs in the window; the database sorts (on PostgreSQL once for every q, as an
    ordered-set aggregate; elsewhere once per q, one row back each)."""
    jobs = engine_jobs(since=since, until=until)
    if connection.vendor == "postgresql":
        values = jobs.aggregate(values=_PercentilesDisc("latency", fractions=qs))["values"]
        return {
            q: (value.total_seconds() if value is not None else None)
            for q, value in zip(qs, values or [None] * len(qs), strict=True)
        }
    count = jobs.count()
    result: dict[float, float | None] = {}
    for q in qs:
        if not count:
            result[q] = None
            continue
        latency = jobs.order_by("latency").values_list("latency", flat=True)[percentile_rank(count, q) - 1]
        result[q] = latency.total_seconds()
    return result


def percentile_of(values: list[float], q: float) -> float | None:
    """The same percentile over values already in memory (the hourly chart reads a week of jobs in one query)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[percentile_rank(len(ordered), q) - 1]
