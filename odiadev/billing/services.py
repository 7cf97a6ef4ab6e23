"""Writes for billing: assigning a plan (local mode, or from Stripe later)."""

from __future__ import annotations

from .models import BillingAccount, Plan
from .plans import PLAN_CATALOG


def plan_ensure(*, slug: str) -> Plan:
    """The plan with `slug`, created from the shipped catalog if the database lacks it."""
    spec = next(plan for plan in PLAN_CATALOG if plan["slug"] == slug)
    plan, _ = Plan.objects.get_or_create(slug=slug, defaults={k: v for k, v in spec.items() if k != "slug"})
    return plan


def plan_assign(*, user, slug: str, assigned_by=None) -> BillingAccount:
    account, _ = BillingAccount.objects.update_or_create(
        user=user, defaults={"plan": plan_ensure(slug=slug), "assigned_by": assigned_by}
    )
    return account
