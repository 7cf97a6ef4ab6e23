"""What operators do from the ops panel. Each action needs a reason and is recorded (who, when, why, what it did)
in `OpsAction`; switch flips are also in the switch's own history."""

from __future__ import annotations

import logging

from django.conf import settings

from controls.breaker import oom_reset
from controls.switches import SWITCHES, switch_set
from core.broker import queue_purge as broker_queue_purge
from synthesis.cache import cache_clear
from synthesis.models import JobStatus, SynthesisJob
from synthesis.transitions import synthesis_job_cancel

from .errors import ReasonRequired, UnknownSwitch
from .models import OpsAction, OpsActionKind

logger = logging.getLogger(__name__)


def _record(kind: str, *, reason: str, user, detail: dict) -> OpsAction:
    action = OpsAction.objects.create(
        kind=kind, actor=user.email if user else "system", user=user, reason=reason, detail=detail
    )
    logger.warning("ops action %s by %s (%s): %s", kind, action.actor, reason, detail)
    return action


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason


def switch_flip(*, name: str, enabled: bool, reason: str, user) -> OpsAction:
    if name not in SWITCHES:
        raise UnknownSwitch(f"There is no switch {name!r}.")
    reason = _reason(reason)
    switch_set(name=name, enabled=enabled, reason=reason, user=user)
    return _record(OpsActionKind.SWITCH, reason=reason, user=user, detail={"switch": name, "enabled": enabled})


def queue_purge(*, reason: str, user) -> OpsAction:
    """Cancel every queued synthesis job (their characters go back) and empty the synthesis queues at the broker.
    Running jobs finish. Safe to repeat."""

    reason = _reason(reason)
    cancelled = 0
    for job in SynthesisJob.objects.filter(status=JobStatus.QUEUED).select_related("user").iterator():
        if synthesis_job_cancel(job=job).status == JobStatus.CANCELLED:
            cancelled += 1
    purged = {queue: broker_queue_purge(queue) for queue in sorted(set(settings.SPEECH_ENGINE_QUEUES.values()))}
    return _record(
        OpsActionKind.PURGE_QUEUE, reason=reason, user=user, detail={"jobs_cancelled": cancelled, "messages": purged}
    )


def cache_clear_all(*, reason: str, user) -> OpsAction:
    """Drop the synthesis cache's index (its keys only; the audio files stay with their jobs)."""

    reason = _reason(reason)
    return _record(OpsActionKind.CLEAR_CACHE, reason=reason, user=user, detail={"entries": cache_clear()})


def breaker_reset(*, reason: str, user) -> OpsAction:
    """Forget the counted CUDA OOMs. Voice cloning stays as it is: turning it back on is its own, audited flip."""
    reason = _reason(reason)
    return _record(OpsActionKind.RESET_BREAKER, reason=reason, user=user, detail={"forgotten": oom_reset()})


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"


def action_summary(action: OpsAction) -> str:
    """One sentence saying what an audited action did, for the panel's "Recent actions" and its flash message."""
    detail = action.detail or {}
    if action.kind == OpsActionKind.SWITCH:
        return f"Turned {detail.get('switch', 'a switch')} {'on' if detail.get('enabled') else 'off'}."
    if action.kind == OpsActionKind.PURGE_QUEUE:
        messages = detail.get("messages") or {}
        per_queue = ", ".join(f"{queue}: {count:,}" for queue, count in sorted(messages.items()))
        removed = _count(sum(messages.values()), "message", "messages")
        cancelled = _count(detail.get("jobs_cancelled", 0), "queued job", "queued jobs")
        return f"Cancelled {cancelled} and removed {removed} from the queues" + (
            f" ({per_queue})." if per_queue else "."
        )
    if action.kind == OpsActionKind.CLEAR_CACHE:
        return f"Removed {_count(detail.get('entries', 0), 'cache entry', 'cache entries')}; past jobs' audio stays."
    if action.kind == OpsActionKind.RESET_BREAKER:
        oom = "counted GPU out-of-memory error"
        return f"Forgot {_count(detail.get('forgotten', 0), oom, oom + 's')}."
    return action.get_kind_display() + "."
