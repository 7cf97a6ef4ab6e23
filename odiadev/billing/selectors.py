"""Reads for billing: plans and usage."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import EntryKind, LedgerEntry, Plan
from .services import account_ensure, account_refresh, period_bounds


def plan_for(*, user) -> Plan:
    """The account's plan; an account never assigned one is on the default (Free) plan."""
    return account_ensure(user=user).plan


def _total(entries) -> int:
    return entries.aggregate(total=Sum("amount"))["total"] or 0


def usage_summary_for(*, user, days: int = 30) -> dict:
    """The figures of the Billing page and GET /v1/usage: plan, period, used, remaining, and usage by day."""
    account = account_refresh(user=user)
    start, end = period_bounds(account.period)
    entries = LedgerEntry.objects.filter(account=account)
    in_period = entries.filter(period=account.period)
    granted = (
        in_period.filter(kind__in=[EntryKind.GRANT, EntryKind.ADJUST]).aggregate(total=Sum("amount"))["total"] or 0
    )
    # Characters used = reserved minus released (captured reservations stay used, pending ones count too).
    used = -(
        in_period.filter(kind__in=[EntryKind.RESERVE, EntryKind.RELEASE]).aggregate(total=Sum("amount"))["total"] or 0
    )
    since = (timezone.now() - timedelta(days=days - 1)).date()
    per_day = dict(
        entries.filter(kind__in=[EntryKind.RESERVE, EntryKind.RELEASE], created_at__date__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(total=Sum("amount"))
    )
    by_day = [
        {
            "date": (since + timedelta(days=offset)).isoformat(),
            "characters": -(per_day.get(since + timedelta(days=offset)) or 0),
        }
        for offset in range(days)
    ]
    plan = account.plan
    return {
        "plan": {"slug": plan.slug, "name": plan.name, "monthly_characters": plan.monthly_characters},
        "period": {"name": account.period, "start": start.isoformat(), "end": end.isoformat()},
        "characters": {"granted": granted, "used": used, "remaining": account.balance},
        "by_day": by_day,
    }
