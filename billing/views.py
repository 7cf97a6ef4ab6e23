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


@login_required
def billing_page(request):
    usage = usage_summary_for(user=request.user)
    granted = max(usage["characters"]["granted"], 1)
    peak = max([day["characters"] for day in usage["by_day"]] + [1])
    context = {
        "usage": usage,
        "used_percent": min(100, round(100 * usage["characters"]["used"] / granted)),
        "storage_percent": min(
            100, round(100 * usage["storage"]["used_bytes"] / max(usage["storage"]["quota_bytes"], 1))
        ),
        # An inline SVG bar chart: 30 bars of width 8 in a 300 x 100 box, drawn here so the page needs no script.
        "bars": [
            {**day, "x": index * 10, "y": 100 - (height := round(100 * day["characters"] / peak)), "height": height}
            for index, day in enumerate(usage["by_day"])
        ],
        "plans": Plan.objects.filter(is_active=True),
        "payments_configured": payments_configured(),
        "account": (account := account_ensure(user=request.user)),
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
