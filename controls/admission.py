"""Admission: may this work start? One home for the rules that the submit service (at the door) and the worker
(when a queued job starts, in case the operators changed their minds meanwhile) both apply.

In order of who decides: the operators (maintenance, the engine's switch, the cloning switch), then the customer's
plan. Callers pass what the rule needs (the plan's verdict): controls knows no plans.
"""

from __future__ import annotations

from django.conf import settings

from .errors import CloningDisabled, EngineDisabled, MaintenanceMode, PlanForbidsCloning
from .switches import SwitchName, engine_enabled, switch_is_on


def admit_new_work() -> None:
    """Refuse new jobs while the platform is in maintenance (queued jobs still run)."""
    if switch_is_on(SwitchName.MAINTENANCE_MODE):
        raise MaintenanceMode(settings.MAINTENANCE_MESSAGE)


def admit_engine(engine: str) -> None:
    if not engine_enabled(engine):
        raise EngineDisabled(detail={"engine": engine})


def admit_cloning(*, plan_allows_cloning: bool) -> None:
    """New cloned voices, and synthesis with one: the kill switch first, then the plan."""
    if not switch_is_on(SwitchName.VOICE_CLONING):
        raise CloningDisabled()
    if not plan_allows_cloning:
        raise PlanForbidsCloning()


def admit_job(*, engine: str, cloned: bool, plan_allows_cloning: bool) -> None:
    """A job about to run (or be queued) on `engine`, with a cloned voice or not."""
    admit_engine(engine)
    if cloned:
        admit_cloning(plan_allows_cloning=plan_allows_cloning)
