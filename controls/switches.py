"""Kill switches: runtime settings in the database, cached for a moment, overridable from the environment.

Every process (web and worker) reads switches through `switches_read` (several in one round trip; `switch_is_on` for
one), which caches the database values in Redis for `SWITCH_CACHE_SECONDS`; flipping a switch deletes its entry, so
every process sees the change on its next read.
An environment variable that forces a switch off (e.g. DISABLE_VOICE_CLONING=1) wins over the database.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from core.exceptions import is_backend_outage

from .models import Switch, SwitchChange

logger = logging.getLogger(__name__)

SWITCH_CACHE_SECONDS = 2


@dataclass(frozen=True)
class SwitchSpec:
    name: str
    description: str
    default: bool = True
    env_off: str = ""  # an environment variable that, set to 1/true/yes, forces the switch off


class SwitchName(StrEnum):
    """The switches that are not per engine; each engine has its own, named by `engine_switch`."""

    VOICE_CLONING = "voice_cloning"
    NEW_SIGNUPS = "new_signups"
    MAINTENANCE_MODE = "maintenance_mode"


def engine_switch(engine: str) -> str:
    return f"engine_{engine}"


# Engines get a switch each; the list is the deployment's engine registry (SPEECH_ENGINES).
SWITCHES: dict[str, SwitchSpec] = {
    spec.name: spec
    for spec in (
        SwitchSpec(
            SwitchName.VOICE_CLONING,
            "New cloned voices and synthesis with cloned voices. Turned off by the OOM breaker too.",
            env_off="DISABLE_VOICE_CLONING",
        ),
        SwitchSpec(SwitchName.NEW_SIGNUPS, "New accounts can sign up on the dashboard."),
        SwitchSpec(
            SwitchName.MAINTENANCE_MODE,
            "ON = maintenance: new synthesis jobs are refused with 503 and MAINTENANCE_MESSAGE; queued jobs finish.",
            default=False,
        ),
        *(
            SwitchSpec(engine_switch(name), f"Jobs on the {name} engine (new ones are refused, queued ones fail).")
            for name in settings.SPEECH_ENGINES
        ),
    )
}


def _cache_key(name: str) -> str:
    return f"switch:{name}"


def _env_forces_off(spec: SwitchSpec) -> bool:
    return bool(spec.env_off) and os.environ.get(spec.env_off, "").strip().lower() in {"1", "true", "yes", "on"}


def switch_is_on(name: str) -> bool:
    return switches_read([name])[name]


def switches_read(names: list[str] | None = None) -> dict[str, bool]:
    """{name: on} for `names` (default: every switch) in one round trip to Redis; the database for those it does
    not hold (one query), written back for `SWITCH_CACHE_SECONDS`."""
    specs = [SWITCHES[name] for name in (SWITCHES if names is None else names)]
    try:
        cached = cache.get_many([_cache_key(spec.name) for spec in specs])
    except Exception as exc:
        # The database is the source of truth and the cache only spares it: a worker starting a job while Redis
        # is away must not fail the job for it.
        if not is_backend_outage(exc):
            raise
        logger.warning("switches read from the database: Redis unavailable")
        return {spec.name: not _env_forces_off(spec) and on for spec, on in _stored_states(specs).items()}
    states = {spec.name: bool(cached[_cache_key(spec.name)]) for spec in specs if _cache_key(spec.name) in cached}
    missing = [spec for spec in specs if spec.name not in states]
    if missing:
        stored = _stored_states(missing)
        cache.set_many({_cache_key(spec.name): int(on) for spec, on in stored.items()}, timeout=SWITCH_CACHE_SECONDS)
        states.update((spec.name, on) for spec, on in stored.items())
    return {spec.name: states[spec.name] and not _env_forces_off(spec) for spec in specs}


def _stored_states(specs: list[SwitchSpec]) -> dict[SwitchSpec, bool]:
    rows = dict(Switch.objects.filter(name__in=[spec.name for spec in specs]).values_list("name", "enabled"))
    return {spec: bool(rows.get(spec.name, spec.default)) for spec in specs}


def engine_enabled(engine: str) -> bool:
    name = engine_switch(engine)
    return switch_is_on(name) if name in SWITCHES else True


def switch_state(name: str) -> dict:
    """What an operator needs to see: the effective state, and why."""
    spec = SWITCHES[name]
    row = Switch.objects.filter(name=name).first()
    return {
        "name": name,
        "enabled": switch_is_on(name),
        "stored": spec.default if row is None else row.enabled,
        "forced_off_by_env": _env_forces_off(spec),
        "reason": row.reason if row else "",
    }


def switch_set(*, name: str, enabled: bool, reason: str, user=None, actor: str = "") -> Switch:
    """Set a switch and record who did it and why. Setting it to its current state still records the reason."""
    if name not in SWITCHES:
        raise KeyError(name)
    if not reason.strip():
        raise ValueError("a reason is required to flip a switch")
    actor = actor or (user.email if user is not None else "system")
    with transaction.atomic():
        switch, _ = Switch.objects.select_for_update().get_or_create(
            name=name, defaults={"enabled": SWITCHES[name].default}
        )
        switch.enabled = enabled
        switch.reason = reason
        switch.changed_by = user
        switch.save()
        SwitchChange.objects.create(switch=switch, enabled=enabled, reason=reason, changed_by=user, actor=actor)
        # Dropped now and again after commit: another process may have cached the old row in between.
        cache.delete(_cache_key(name))
        transaction.on_commit(lambda: cache.delete(_cache_key(name)))
    logger.warning("switch %s turned %s by %s: %s", name, "on" if enabled else "off", actor, reason)
    return switch


def switch_on_since(name: str) -> float:
    """When the switch was last turned on (epoch seconds), or 0 if it never was flipped or is off now."""
    row = Switch.objects.filter(name=name, enabled=True).values_list("updated_at", flat=True).first()
    return row.timestamp() if row else 0.0
