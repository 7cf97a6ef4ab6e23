"""Health endpoints (`/health/live` public and minimal, `/health` for our scrapers only), and the staff-only ops
panel."""

import json

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from billing.selectors import payment_incidents
from controls.switches import SWITCHES, switch_state
from core.exceptions import ApplicationError
from core.private import private_endpoint

from .actions import action_summary, breaker_reset, cache_clear_all, queue_purge, switch_flip
from .health import health_report, live_status
from .kpis import WINDOWS, clone_quality_window, kpi_series, kpi_tiles
from .models import KpiRollup, OpsAction

ACTIONS = {"purge_queue": queue_purge, "clear_cache": cache_clear_all, "reset_breaker": breaker_reset}


@never_cache
@require_GET
def health_live(request):
    return JsonResponse({"status": "ok"})


@never_cache
@private_endpoint  # hostnames, PIDs, versions and queues: for our scrapers only (core/private.py)
@require_GET
def health(request):
    overall, body = health_report()
    return JsonResponse(body, status=503 if overall == "down" else 200)


@never_cache
@staff_member_required
@require_GET
def ops_panel(request):
    window = request.GET.get("window", "24h")
    window = window if window in WINDOWS else "24h"
    latest = KpiRollup.objects.order_by("-computed_at").values_list("computed_at", flat=True).first()
    context = {
        "window": window,
        "windows": list(WINDOWS),
        "tiles": kpi_tiles(window),
        "clone_quality": clone_quality_window(window),
        "live": live_status(),
        "switches": [_switch_row(name, spec) for name, spec in SWITCHES.items()],
        "recent_actions": [
            {"action": action, "summary": action_summary(action)}
            for action in OpsAction.objects.select_related("user")[:15]
        ],
        "incidents": payment_incidents(flagged_only=True)[:20],
        "series_json": json.dumps(kpi_series()),
        "rollups_at": latest,
    }
    return render(request, "ops/panel.html", context)


def _switch_row(name, spec) -> dict:
    """A switch for the panel: `healthy` when it is in its normal position (its default). Most switches are
    normally on (off means something is refused), maintenance_mode normally off: the colour follows health, not
    the word on/off."""
    state = switch_state(name)
    return {**state, "description": spec.description, "healthy": state["enabled"] == spec.default}


def _confirmed(request) -> bool:
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick “I am sure” to confirm the action.")
        return False
    return True


@staff_member_required
@require_POST
def ops_switch(request, name: str):
    if _confirmed(request):
        enabled = request.POST.get("enabled") == "on"
        try:
            switch_flip(name=name, enabled=enabled, reason=request.POST.get("reason", ""), user=request.user)
        except ApplicationError as exc:
            messages.error(request, f"{exc.message} ({exc.code})")
        else:
            messages.success(request, f"{name} is now {'on' if enabled else 'off'} (all processes within 2 s).")
    return redirect("ops-panel")


@staff_member_required
@require_POST
def ops_action(request, action: str):
    if action not in ACTIONS:
        messages.error(request, f"Unknown action {action!r}.")
    elif _confirmed(request):
        try:
            done = ACTIONS[action](reason=request.POST.get("reason", ""), user=request.user)
        except ApplicationError as exc:
            messages.error(request, f"{exc.message} ({exc.code})")
        else:
            messages.success(request, f"{done.get_kind_display()}: {action_summary(done)}")
    return redirect("ops-panel")
