"""An account's terms for a new job, kept per process: its plan (the checks' limits) and whether its audio is marked.

A submit decides its checks and its cache key (the watermark flag is part of it) before it locks the account, and
read the account for that on every request: the largest single read of a cache hit. This process now keeps what it
read for `TERMS_TTL` seconds. A kept copy can be stale (an operator changed the plan or the watermark rule): the
submit's locked read of the account compares the copy's `stamp` with the row's (`billing.services.usage_admit`) and
raises `AccountTermsChanged`, and the submit starts again on the row's terms. So no job is billed, admitted or marked
under terms other than the locked row's; a stale copy costs one retry, never a wrong answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .models import BillingAccount, Plan

TERMS_TTL = 30.0
TERMS_KEPT_MAX = 10_000  # accounts per process; past it the copies start again from empty


class AccountTermsChanged(Exception):
    """The account's plan or watermark rule changed after the submit read them: start it again (not an API error)."""


@dataclass(frozen=True)
class AccountTerms:
    plan: Plan
    watermark: bool
    kept: bool = False  # from this process's copy, not read for this request

    @property
    def stamp(self) -> tuple:
        """What the submit decided with: the plan (and its last change) and the watermark rule."""
        return (self.plan.pk, self.plan.updated_at, self.watermark)


def terms_of(account: BillingAccount) -> AccountTerms:
    """The terms a (locked or just read) account row gives, with its plan loaded."""
    return AccountTerms(plan=account.plan, watermark=account.plan.watermarked or account.watermark_opt_in)


_kept: dict[int, tuple[float, AccountTerms]] = {}  # user id -> (monotonic time read, terms); GIL-atomic updates


def terms_recall(user_id: int) -> AccountTerms | None:
    entry = _kept.get(user_id)
    if entry is None or time.monotonic() - entry[0] > TERMS_TTL:
        return None
    return AccountTerms(plan=entry[1].plan, watermark=entry[1].watermark, kept=True)


def terms_keep(user_id: int, terms: AccountTerms) -> None:
    if len(_kept) >= TERMS_KEPT_MAX:
        _kept.clear()
    _kept[user_id] = (time.monotonic(), terms)


def terms_forget(user_id: int) -> None:
    _kept.pop(user_id, None)
