"""Reads for billing: the plan an account is on."""

from __future__ import annotations

from .models import BillingAccount, Plan
from .plans import DEFAULT_PLAN_SLUG
from .services import plan_ensure


def plan_for(*, user) -> Plan:
    """The account's plan; accounts never assigned one are on the default (Free) plan."""
    account = BillingAccount.objects.select_related("plan").filter(user=user).first()
    return account.plan if account is not None else plan_ensure(slug=DEFAULT_PLAN_SLUG)
