"""The dashboard's Billing page, its Checkout / Customer Portal buttons, and Stripe's webhook endpoint."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError

from .models import Plan
from .selectors import invoices_for, usage_summary_for
from .services import account_ensure, account_watermark_set
from .stripe.checkout import checkout_session_create, portal_session_create
from .stripe.common import LIVE_STATUSES, payments_configured


def number(value: int) -> str:
    """Thousands separators, the page's one number format: 100000 -> "100,000"."""
    return f"{value:,}"


def size(num_bytes: int) -> str:
    """The page's one size rule, the plans' own unit: MB as `storage_quota_mb` counts it (2**20 bytes), and
    GB = 1,000 MB, so a 5,000 MB plan reads "5 GB" in the table and in "x of 5 GB used". Below 1,000 MB: MB."""
    megabytes = num_bytes / 2**20
    if megabytes >= 1000:
        return f"{megabytes / 1000:,.1f}".removesuffix(".0") + " GB"
    if megabytes >= 10 or not megabytes:
        return f"{megabytes:,.0f} MB"
    return f"{megabytes:.1f} MB"


def _plan_rows(plans, *, current) -> list[dict]:
    """Each plan with every limit a user meets, formatted, and how it compares with the current plan (the plans'
    order is their rank: sort_order, then price)."""
    plans = list(plans)
    rank = next((index for index, plan in enumerate(plans) if plan.pk == current.pk), None)
    rows = []
    for index, plan in enumerate(plans):
        relation = "current" if index == rank else ("lower" if rank is not None and index < rank else "higher")
        rows.append(
            {
                "plan": plan,
                "relation": relation,
                "monthly_characters": number(plan.monthly_characters),
                # The synthesis service refuses longer texts: the plan's limit, capped by the deployment's.
                "longest_text": number(min(plan.max_text_chars, settings.TTS_MAX_TEXT_CHARS)),
                "formats": ", ".join(plan.allowed_formats),
                "cloning": (
                    f"{number(plan.cloned_voice_slots)} voice{'s' if plan.cloned_voice_slots != 1 else ''}"
                    if plan.allows_cloning and plan.cloned_voice_slots
                    else "no"
                ),
                "concurrent_jobs": number(plan.concurrent_jobs),
                "storage": size(plan.storage_quota_bytes),
            }
        )
    return rows


# The usage chart: an inline SVG drawn here (no script; the CSP allows none inline), in a 360 x 160 box with room
# on the left for the characters axis and below for the dates.
CHART = {"width": 360, "height": 160, "left": 48, "right": 8, "top": 10, "bottom": 34}


def _nice_ceiling(value: int) -> int:
    """The axis top: the peak rounded up to 1, 2 or 5 times a power of ten."""
    step = 1
    while step * 10 <= value:
        step *= 10
    return next(m * step for m in (1, 2, 5, 10) if m * step >= value)


def usage_chart(by_day: list[dict]) -> dict:
    """Bars, axis lines, ticks and labels for the characters-per-day chart, in SVG user units."""
    c = CHART
    plot_w, plot_h = c["width"] - c["left"] - c["right"], c["height"] - c["top"] - c["bottom"]
    base = c["top"] + plot_h
    top = _nice_ceiling(max([day["characters"] for day in by_day] + [1]))
    slot = plot_w / max(len(by_day), 1)
    bars = []
    for index, day in enumerate(by_day):
        height = round(plot_h * day["characters"] / top, 1)
        bars.append(
            {
                **day,
                "label": number(day["characters"]),
                "x": round(c["left"] + index * slot + slot * 0.15, 1),
                "y": round(base - height, 1),
                "width": round(slot * 0.7, 1),
                "height": height,
            }
        )
    y_ticks = [
        {"y": round(base - plot_h * fraction, 1), "label": number(round(top * fraction))} for fraction in (0, 0.5, 1)
    ]
    x_ticks = []
    for index in sorted({0, len(by_day) // 2, len(by_day) - 1}) if by_day else []:
        x_ticks.append({"x": round(c["left"] + (index + 0.5) * slot, 1), "label": by_day[index]["date"][5:]})
    return c | {
        "bars": bars,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "x0": c["left"],
        "x1": c["width"] - c["right"],
        "y0": c["top"],
        "base": base,
        "label_x": c["left"] - 6,
        "date_y": base + 14,
        "title_y": c["height"] - 2,
        "axis_mid_y": c["top"] + plot_h / 2,
        "total": number(sum(day["characters"] for day in by_day)),
    }


@login_required
def billing_page(request):
    usage = usage_summary_for(user=request.user)
    granted = max(usage["characters"]["granted"], 1)
    account = account_ensure(user=request.user)
    context = {
        "usage": usage,
        "used_percent": min(100, round(100 * usage["characters"]["used"] / granted)),
        "chars_used": number(usage["characters"]["used"]),
        "chars_left": number(usage["characters"]["remaining"]),
        "storage_used": size(usage["storage"]["used_bytes"]),
        "storage_quota": size(usage["storage"]["quota_bytes"]),
        "storage_percent": min(
            100, round(100 * usage["storage"]["used_bytes"] / max(usage["storage"]["quota_bytes"], 1))
        ),
        "chart": usage_chart(usage["by_day"]),
        "plan_rows": _plan_rows(Plan.objects.filter(is_active=True), current=account.plan),
        "payments_configured": payments_configured(),
        "account": account,
        "subscribed": bool(account.stripe_subscription_id) and account.subscription_status in LIVE_STATUSES,
        "invoices": invoices_for(user=request.user),
        "checkout_result": request.GET.get("checkout", ""),
    }
    return render(request, "billing/billing.html", context)


@login_required
@require_POST
def watermark_update(request):
    """The provenance watermark opt-in checkbox."""
    opt_in = request.POST.get("watermark_opt_in") == "on"
    account = account_watermark_set(user=request.user, opt_in=opt_in)
    if account.plan.watermarked:
        messages.info(request, f"Audio on the {account.plan.name} plan always carries the watermark.")
    else:
        messages.success(request, "New audio will carry the watermark." if opt_in else "New audio will not be marked.")
    return redirect("billing")


def _billing_url(request, **query) -> str:
    url = request.build_absolute_uri(reverse("billing")) if request else f"{settings.PUBLIC_BASE_URL}/billing/"
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@login_required
@require_POST
def checkout_start(request):
    """The Upgrade button: off to Stripe Checkout (303), or back to the page with the reason."""
    try:
        url = checkout_session_create(
            user=request.user,
            slug=request.POST.get("plan", ""),
            success_url=_billing_url(request, checkout="success"),
            cancel_url=_billing_url(request, checkout="cancelled"),
        )
    except ApplicationError as exc:
        messages.error(request, f"{exc.message} ({exc.code})")
        return redirect("billing")
    return _see_other(url)


@login_required
@require_POST
def portal_start(request):
    """The Manage subscription button: off to the Stripe Customer Portal."""
    try:
        url = portal_session_create(user=request.user, return_url=_billing_url(request))
    except ApplicationError as exc:
        messages.error(request, f"{exc.message} ({exc.code})")
        return redirect("billing")
    return _see_other(url)


def _see_other(url: str):
    response = redirect(url)
    response.status_code = 303
    return response
