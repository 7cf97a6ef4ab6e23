"""Runtime limits: numbers operators change without a redeploy, like the switches.

Each limit has a default from the deployment's settings (and so from its environment variable). An operator may set
a value in the admin (a `Limit` row), which wins over the default; an environment variable `LIMIT_<NAME>` wins over
both, for incidents where the database itself is the problem. Rows are cached in each process for at most
`LIMIT_CACHE_SECONDS` (one small query per process per interval, never one per request), so a change reaches every
process within that time. Defaults are read from settings at each call, so `override_settings` works in tests.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import transaction

from .models import Limit

logger = logging.getLogger(__name__)

LIMIT_CACHE_SECONDS = 2.0


class LimitName(StrEnum):
    RATE_LIMIT_PER_IP_PER_MINUTE = "rate_limit_per_ip_per_minute"
    RATE_LIMIT_READ_MULTIPLIER = "rate_limit_read_multiplier"
    PROVENANCE_VERIFY_PER_IP_PER_MINUTE = "provenance_verify_per_ip_per_minute"
    OOM_BREAKER_THRESHOLD = "oom_breaker_threshold"
    OOM_BREAKER_WINDOW = "oom_breaker_window"
    ABUSE_RATE_FACTOR = "abuse_rate_factor"
    ABUSE_RATE_FLOOR_PER_MINUTE = "abuse_rate_floor_per_minute"
    ABUSE_STORAGE_FACTOR = "abuse_storage_factor"
    ABUSE_STORAGE_FLOOR_BYTES = "abuse_storage_floor_bytes"
    ABUSE_CONSENT_ATTEMPTS_PER_DAY = "abuse_consent_attempts_per_day"
    ABUSE_PROFILES_PER_IP = "abuse_profiles_per_ip"


@dataclass(frozen=True)
class LimitSpec:
    name: LimitName
    description: str
    integer: bool = True
    minimum: float = 0

    @property
    def setting(self) -> str:
        return self.name.upper()

    @property
    def env_override(self) -> str:
        return f"LIMIT_{self.name.upper()}"

    def cast(self, value: float) -> float | int:
        return int(value) if self.integer else float(value)


LIMITS: dict[str, LimitSpec] = {
    spec.name: spec
    for spec in (
        LimitSpec(LimitName.RATE_LIMIT_PER_IP_PER_MINUTE, "Requests per minute from one address (every path)."),
        LimitSpec(LimitName.RATE_LIMIT_READ_MULTIPLIER, "Reads allowed per minute, as a multiple of the plan's rate."),
        LimitSpec(LimitName.PROVENANCE_VERIFY_PER_IP_PER_MINUTE, "Public provenance checks per minute per address."),
        LimitSpec(LimitName.OOM_BREAKER_THRESHOLD, "CUDA out-of-memory errors within the window that stop cloning."),
        LimitSpec(LimitName.OOM_BREAKER_WINDOW, "The OOM breaker's window, in seconds."),
        LimitSpec(LimitName.ABUSE_RATE_FACTOR, "A rate spike: this many times a subject's baseline.", integer=False),
        LimitSpec(LimitName.ABUSE_RATE_FLOOR_PER_MINUTE, "The lowest baseline (requests/min).", integer=False),
        LimitSpec(LimitName.ABUSE_STORAGE_FACTOR, "A storage spike: this many times the daily mean.", integer=False),
        LimitSpec(LimitName.ABUSE_STORAGE_FLOOR_BYTES, "The lowest daily mean for storage spikes, in bytes."),
        LimitSpec(LimitName.ABUSE_CONSENT_ATTEMPTS_PER_DAY, "Consent challenges per address per day before a flag."),
        LimitSpec(LimitName.ABUSE_PROFILES_PER_IP, "Voice profiles per address per day before a flag."),
    )
}

_rows: dict[str, float] = {}
_loaded_at = -1e9
_lock = threading.Lock()


def _stored() -> dict[str, float]:
    """The operators' values, read again once LIMIT_CACHE_SECONDS old. One thread reads them while the others go
    on with the copy they have: nobody waits on `_lock` (a thread that waited on it while holding a database
    connection, behind one that needs a connection from the full pool, would deadlock the process until the pool's
    timeout). Before the first read, each thread reads for itself."""
    global _rows, _loaded_at
    if time.monotonic() - _loaded_at <= LIMIT_CACHE_SECONDS:
        return _rows
    if not _lock.acquire(blocking=False):  # another thread is reading them
        return _rows if _loaded_at > 0 else dict(Limit.objects.values_list("name", "value"))
    try:
        if time.monotonic() - _loaded_at > LIMIT_CACHE_SECONDS:
            _rows = dict(Limit.objects.values_list("name", "value"))
            _loaded_at = time.monotonic()
        return _rows
    finally:
        _lock.release()


def limits_cache_clear() -> None:
    global _loaded_at
    _loaded_at = -1e9


def _env_value(spec: LimitSpec) -> float | None:
    raw = os.environ.get(spec.env_override, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        logger.warning("%s=%r is not a number: ignored", spec.env_override, raw)
        return None


def limit_value(name: LimitName | str) -> float | int:
    """The limit in force: LIMIT_<NAME> from the environment, else the operators' value, else the default."""
    spec = LIMITS[name]
    forced = _env_value(spec)
    if forced is not None:
        return spec.cast(forced)
    stored = _stored().get(spec.name)
    if stored is not None:
        return spec.cast(stored)
    return spec.cast(getattr(settings, spec.setting))


def limit_state(name: LimitName | str) -> dict:
    """What an operator needs to see: the value in force and where it comes from."""
    spec = LIMITS[name]
    stored = _stored().get(spec.name)
    source = "environment" if _env_value(spec) is not None else "operators" if stored is not None else "default"
    return {"name": spec.name, "value": limit_value(name), "source": source, "default": getattr(settings, spec.setting)}


def limit_set(*, name: LimitName | str, value: float, reason: str, user=None) -> Limit:
    """Set the operators' value (audited by its reason); every process sees it within the cache interval."""
    spec = LIMITS[name]
    if value < spec.minimum:
        raise ValueError(f"{spec.name} must be at least {spec.minimum:g}")
    with transaction.atomic():
        row, _ = Limit.objects.select_for_update().get_or_create(
            name=spec.name, defaults={"value": value, "reason": reason, "changed_by": user}
        )
        row.value, row.reason, row.changed_by = value, reason, user
        row.save()
        transaction.on_commit(limits_cache_clear)
    logger.warning("limit %s set to %s by %s: %s", spec.name, value, user or "system", reason)
    return row
