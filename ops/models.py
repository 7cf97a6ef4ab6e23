"""Runtime switches operators flip without a redeploy (and the audit trail of every flip); abuse controls:
blocked addresses, blocked accounts and abuse flags for review."""

import contextlib
import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from core.models import TimestampedModel


class Switch(TimestampedModel):
    name = models.SlugField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    reason = models.TextField(blank=True, help_text="Why it is in its current state.")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {'on' if self.enabled else 'off'}"


class SwitchChange(models.Model):
    """Append-only: who (or what: the OOM breaker) changed which switch, when, and why."""

    switch = models.ForeignKey(Switch, on_delete=models.CASCADE, related_name="changes")
    enabled = models.BooleanField()
    reason = models.TextField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor = models.CharField(max_length=100, help_text="The operator's email, or the automatic actor.")
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.switch.name} -> {'on' if self.enabled else 'off'} by {self.actor}"


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


# The widest ranges the blocklist takes: a typo such as 0.0.0.0/0 must not lock everyone (operators too) out.
MIN_PREFIX = {4: 8, 6: 16}


def ip_network_normalize(value: str) -> str:
    """`value` as a network in canonical text (`203.0.113.7/32`, `2001:db8::/48`), or ValidationError."""
    text = (value or "").strip()
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        hint = ""
        with contextlib.suppress(ValueError):
            hint = f" Did you mean {ipaddress.ip_network(text, strict=False)}?"
        raise ValidationError(f"“{text}” is not an IP address or CIDR range.{hint}", code="invalid") from exc
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96 and network[0].ipv4_mapped:
        # ::ffff:a.b.c.d is how a dual-stack socket shows an IPv4 client; block it as the IPv4 address it is.
        network = ipaddress.ip_network(f"{network[0].ipv4_mapped}/{network.prefixlen - 96}")
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise ValidationError(
            f"/{network.prefixlen} is too wide to block; the widest allowed is /{MIN_PREFIX[network.version]}.",
            code="too_wide",
        )
    return str(network)


class IpBlock(models.Model):
    """A blocked address or range: every HTTP request and websocket from it is refused (except /health/live)."""

    network = models.CharField(
        max_length=64,
        unique=True,
        help_text="One address (203.0.113.7, 2001:db8::1) or a CIDR range (203.0.113.0/24, 2001:db8::/48).",
    )
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: permanent.")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "IP block"
        indexes = [models.Index(fields=["expires_at"], name="ipblock_expires")]

    def __str__(self) -> str:
        return self.network

    def clean(self) -> None:
        self.network = ip_network_normalize(self.network)


class UserBlock(models.Model):
    """Who blocked an account, when and why; and who lifted the block. Append-only audit."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks")
    reason = models.TextField()
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    blocked_at = models.DateTimeField(auto_now_add=True, db_index=True)
    keys_revoked = models.PositiveIntegerField(default=0)
    sessions_deleted = models.PositiveIntegerField(default=0)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-blocked_at"]
        indexes = [models.Index(fields=["user", "-blocked_at"], name="userblock_user_blocked")]

    def __str__(self) -> str:
        return f"{self.user} blocked {self.blocked_at:%Y-%m-%d %H:%M}"


class AbuseFlagKind(models.TextChoices):
    RATE_SPIKE = "rate_spike", "Request rate spike"
    STORAGE_SPIKE = "storage_spike", "Storage growth spike"
    CONSENT_ATTEMPTS = "consent_attempts", "Many consent challenges from one address"
    PROFILES_PER_IP = "profiles_per_ip", "Many voice profiles from one address"


class AbuseSubject(models.TextChoices):
    API_KEY = "api_key", "API key"
    USER = "user", "User"
    IP = "ip", "IP address"


class AbuseFlagStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed"
    ACTIONED = "actioned", "Actioned"


class AbuseFlag(models.Model):
    """Something automatic detection found suspicious, for an operator to dismiss or act on."""

    kind = models.CharField(max_length=32, choices=AbuseFlagKind.choices)
    subject_type = models.CharField(max_length=16, choices=AbuseSubject.choices)
    subject_id = models.CharField(max_length=64, help_text="API key prefix, user public id, or IP address.")
    evidence = models.JSONField(default=dict)
    # kind:subject:window. Unique, so each detector raises one flag per subject per window even when several
    # processes notice at once.
    dedupe_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=16, choices=AbuseFlagStatus.choices, default=AbuseFlagStatus.OPEN)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="abuseflag_status_created"),
            models.Index(fields=["subject_type", "subject_id"], name="abuseflag_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject_type} {self.subject_id}"
