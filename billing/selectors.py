"""Reads for billing: plans, usage, invoices, revenue."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.db.models import DateField, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from .models import BillingAccount, EntryKind, LedgerEntry, PaymentIncident, Plan, RevenueEntry
from .services import account_ensure, account_refresh, period_bounds
from .storage import storage_used_for
from .terms import AccountTerms, terms_keep, terms_of, terms_recall


def plan_for(*, user) -> Plan:
    """The account's plan; an account never assigned one is on the default (Free) plan."""
    return account_ensure(user=user).plan


def audio_watermarked_for(*, user) -> bool:
    """Whether the account's new audio carries the provenance watermark: its plan's rule, or the account's opt-in."""
    return plan_and_watermark_for(user=user)[1]


def plan_and_watermark_for(*, user) -> tuple[Plan, bool]:
    """`plan_for` and `audio_watermarked_for` from one read of the account (a live context needs both)."""
    terms = terms_of(account_ensure(user=user))
    return terms.plan, terms.watermark


def account_terms_for(*, user, fresh: bool = False) -> AccountTerms:
    """The plan and watermark rule a submit decides with: this process's copy from the last few seconds unless
    `fresh`, else one read of the account (billing/terms.py: the locked read confirms them)."""
    if not fresh:
        kept = terms_recall(user.pk)
        if kept is not None:
            return kept
    terms = terms_of(account_ensure(user=user))
    terms_keep(user.pk, terms)
    return terms


def account_settings_for(*, user) -> dict:
    """The account settings of GET/PATCH /v1/account and the Billing page."""
    account = account_ensure(user=user)
    return {
        "plan": account.plan.slug,
        "watermark_opt_in": account.watermark_opt_in,
        # What new audio gets: the plan's watermark, or the opt-in.
        "watermarked": terms_of(account).watermark,
        "plan_watermarked": account.plan.watermarked,
    }


def _total(queryset, field: str = "amount") -> int:
    return queryset.aggregate(total=Sum(field))["total"] or 0


def usage_summary_for(*, user, days: int = 30) -> dict:
    """The figures of the Billing page and GET /v1/usage: plan, period, used, remaining, and usage by day."""
    account = account_refresh(user=user)
    start, end = period_bounds(account.period)
    entries = LedgerEntry.objects.filter(account=account)
    in_period = entries.filter(period=account.period)
    granted = _total(in_period.filter(kind__in=[EntryKind.GRANT, EntryKind.ADJUST]))
    # Characters used = reserved minus released (captured reservations stay used, pending ones count too).
    used = -_total(in_period.filter(kind__in=[EntryKind.RESERVE, EntryKind.RELEASE]))
    since = (timezone.now() - timedelta(days=days - 1)).date()
    # UTC days (TIME_ZONE is UTC): the window a range on created_at (its index), each entry's day its date as the
    # database computes it (SQLite's date(), PostgreSQL's ::date). TruncDate ran a Python function per row on SQLite.
    per_day = dict(
        entries.filter(
            kind__in=[EntryKind.RESERVE, EntryKind.RELEASE],
            created_at__gte=datetime.combine(since, time.min, tzinfo=UTC),
        )
        .annotate(day=Cast("created_at", DateField()))
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
        "storage": {"used_bytes": storage_used_for(user=user), "quota_bytes": plan.storage_quota_bytes},
    }


def invoices_for(*, user, limit: int = 24) -> list[dict]:
    """The account's Stripe invoices as dj-stripe keeps them, newest first (none in local mode)."""
    from djstripe.models import Invoice

    customer_id = BillingAccount.objects.filter(user=user).values_list("stripe_customer_id", flat=True).first()
    if not customer_id:
        return []
    invoices = []
    for invoice in Invoice.objects.filter(customer_id=customer_id).order_by("-created")[:limit]:
        data = invoice.stripe_data
        amount, currency = data.get("amount_due") or 0, data.get("currency") or "usd"
        invoices.append(
            {
                "id": invoice.id,
                "number": data.get("number") or "",
                "created": invoice.created.isoformat() if invoice.created else None,
                "status": data.get("status") or "",
                "amount_due": amount,
                "amount_paid": data.get("amount_paid") or 0,
                "currency": currency,
                "amount_display": f"{amount / 100:.2f} {currency.upper()}",
                "hosted_invoice_url": data.get("hosted_invoice_url") or "",
                "invoice_pdf": data.get("invoice_pdf") or "",
            }
        )
    return invoices


def revenue_for(*, since, until) -> dict:
    """Revenue (paid invoices minus refunds and lost disputes) that occurred in [since, until), in the smallest unit
    of the plans' currency. A deployment charges in one currency, so entries in others are left out and counted."""
    currency = (Plan.objects.exclude(price_cents=0).values_list("currency", flat=True).first() or "usd").lower()
    entries = RevenueEntry.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
    return {
        "currency": currency,
        "cents": _total(entries.filter(currency=currency), "amount_cents"),
        "other_currency_entries": entries.exclude(currency=currency).count(),
    }


def payment_incidents(*, since=None, flagged_only: bool = False):
    incidents = PaymentIncident.objects.select_related("account__user")
    if since is not None:
        incidents = incidents.filter(occurred_at__gte=since)
    return incidents.filter(flagged=True) if flagged_only else incidents
