"""Runtime switches operators flip without a redeploy (and the audit trail of every flip), runtime limits, and the
edge's abuse controls: blocked addresses and abuse flags for review.

These models lived in the `ops` app before the restructure; their tables keep their names (`db_table`), so a
database from before is served as it is (the move is a state-only migration).
"""

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
        db_table = "ops_switch"
        ordering = ["name"]
        verbose_name_plural = "switches"

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
        db_table = "ops_switchchange"
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.switch.name} -> {'on' if self.enabled else 'off'} by {self.actor}"


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
        db_table = "ops_ipblock"
        ordering = ["-created_at"]
        verbose_name = "IP block"
        indexes = [models.Index(fields=["expires_at"], name="ipblock_expires")]

    def __str__(self) -> str:
        return self.network

    def clean(self) -> None:
        self.network = ip_network_normalize(self.network)


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
        db_table = "ops_abuseflag"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="abuseflag_status_created"),
            models.Index(fields=["subject_type", "subject_id"], name="abuseflag_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject_type} {self.subject_id}"


class Limit(TimestampedModel):
    """A runtime limit set by an operator (see `controls.limits`): overrides the deployment's default until
    removed; an environment variable `LIMIT_<NAME>` overrides both."""

    name = models.SlugField(max_length=64, unique=True)
    value = models.FloatField()
    reason = models.TextField(blank=True, help_text="Why it has this value.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} = {self.value:g}"
