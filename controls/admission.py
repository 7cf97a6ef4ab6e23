"""Admission: may this work start? One home for the rules that the submit service (at the door) and the worker
(when a queued job starts, in case the operators changed their minds meanwhile) both apply.

In order of who decides: the operators (maintenance, the engine's switch, the cloning switch), then the customer's
plan. Callers pass what the rule needs (the plan's verdict): controls knows no plans.
"""

from __future__ import annotations

from django.conf import settings

from .errors import CloningDisabled, EngineDisabled, MaintenanceMode, PlanForbidsCloning
from .switches import SwitchName, engine_enabled, engine_switch, switch_is_on, switches_read


def admit_new_work() -> dict[str, bool]:
    """Refuse new jobs while the platform is in maintenance (queued jobs still run). Returns every switch as read
    (one round trip), for the request's later checks (`states=` below): a submit reads the switches once."""
    states = switches_read()
    if states[SwitchName.MAINTENANCE_MODE]:
        raise MaintenanceMode(settings.MAINTENANCE_MESSAGE)
    return states


def admit_engine(engine: str, *, states: dict[str, bool] | None = None) -> None:
    # An engine without a switch (not in SPEECH_ENGINES) is never turned off: `engine_enabled`'s rule, and the
    # snapshot's (which holds every switch) by the same default.
    enabled = engine_enabled(engine) if states is None else states.get(engine_switch(engine), True)
    if not enabled:
        raise EngineDisabled(detail={"engine": engine})


def admit_cloning(*, plan_allows_cloning: bool, states: dict[str, bool] | None = None) -> None:
    """New cloned voices, and synthesis with one: the kill switch first, then the plan."""
    on = switch_is_on(SwitchName.VOICE_CLONING) if states is None else states[SwitchName.VOICE_CLONING]
    if not on:
        raise CloningDisabled()
    if not plan_allows_cloning:
        raise PlanForbidsCloning()


def admit_job(*, engine: str, cloned: bool, plan_allows_cloning: bool) -> None:
    """A job about to run (or be queued) on `engine`, with a cloned voice or not."""
    admit_engine(engine)
    if cloned:
        admit_cloning(plan_allows_cloning=plan_allows_cloning)
