"""What the operator panel keeps: its audited actions, the KPI rollups it reads, and lifecycle policy runs."""

from django.conf import settings
from django.db import models


class OpsActionKind(models.TextChoices):
    SWITCH = "switch", "Switch flipped"
    PURGE_QUEUE = "purge_queue", "Queue purged"
    CLEAR_CACHE = "clear_cache", "Synthesis cache cleared"
    RESET_BREAKER = "reset_breaker", "OOM breaker reset"


class OpsAction(models.Model):
    """Append-only: every action taken from the ops panel, who took it, when, why, and what it did."""

    kind = models.CharField(max_length=32, choices=OpsActionKind.choices)
    actor = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.TextField()
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor}"


class KpiRollup(models.Model):
    """The runbook's figures for one 5-minute bucket, written by a periodic task so the ops panel reads a few
    hundred small rows instead of scanning jobs. Latencies are kept as a histogram (counts per upper bound in
    `ops.kpis.LATENCY_BOUNDS`) so that buckets merge into percentiles for any window."""

    bucket_start = models.DateTimeField(unique=True)
    jobs_finished = models.PositiveIntegerField(default=0, help_text="Succeeded + failed (not cancelled).")
    jobs_failed = models.PositiveIntegerField(default=0)
    cache_hits = models.PositiveIntegerField(default=0)
    clone_jobs = models.PositiveIntegerField(default=0)
    clone_successes = models.PositiveIntegerField(default=0)
    oom_count = models.PositiveIntegerField(default=0)
    gpu_seconds = models.FloatField(default=0.0)
    revenue_cents = models.BigIntegerField(default=0)
    incidents = models.PositiveIntegerField(default=0, help_text="Refunds and disputes.")
    latency_histogram = models.JSONField(default=list)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-bucket_start"]
        verbose_name = "KPI rollup"
        verbose_name_plural = "KPI rollups"

    def __str__(self) -> str:
        return f"KPIs {self.bucket_start:%Y-%m-%d %H:%M}"


class LifecycleReport(models.Model):
    """One run of the lifecycle policy (`manage.py lifecycle_policy`, or the weekly beat task): what it deleted,
    or with `dry_run` what it would have deleted, per category."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField()
    trigger = models.CharField(max_length=16, help_text="command or schedule")
    policy = models.JSONField(default=dict, help_text="The limits this run applied.")
    results = models.JSONField(
        default=dict,
        help_text="Per category: items (rows or files), bytes freed, and files kept because a row points to them.",
    )
    items_total = models.PositiveIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        mode = "dry run" if self.dry_run else "applied"
        return f"lifecycle {self.started_at:%Y-%m-%d %H:%M} ({mode}: {self.items_total} items)"
