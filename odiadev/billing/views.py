"""The dashboard's Billing page."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .models import Plan
from .selectors import usage_summary_for


@login_required
def billing_page(request):
    usage = usage_summary_for(user=request.user)
    granted = max(usage["characters"]["granted"], 1)
    peak = max([day["characters"] for day in usage["by_day"]] + [1])
    context = {
        "usage": usage,
        "used_percent": min(100, round(100 * usage["characters"]["used"] / granted)),
        # An inline SVG bar chart: 30 bars of width 8 in a 300 x 100 box, drawn here so the page needs no script.
        "bars": [
            {**day, "x": index * 10, "y": 100 - (height := round(100 * day["characters"] / peak)), "height": height}
            for index, day in enumerate(usage["by_day"])
        ],
        "plans": Plan.objects.filter(is_active=True),
        "payments_configured": bool(getattr(settings, "STRIPE_SECRET_KEY", "")),
    }
    return render(request, "billing/billing.html", context)
