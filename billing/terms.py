"""An account's terms for a new job, kept per process: its plan (the checks' limits) and whether its audio is marked.

A submit decides its checks and its cache key (the watermark flag is part of it) before it locks the account, and
read the account for that on every request: the largest single read of a cache hit. This process now keeps what it
read for `TERMS_TTL` seconds. A kept copy can be stale (an operator changed the plan or the watermark rule): the
submit's locked read of the account compares the copy's `stamp` with the row's (`billing.services.usage_admit`) and
raises `AccountTermsChanged`, and the submit starts again on the row's terms. So no job is billed, admitted or marked
under terms other than the locked row's; a stale copy costs one retry, never a wrong answer.

The account's `revision` is part of the stamp: it changes with every change of the account's pronunciations and
webhook endpoints, which processes keep too (`KeptPerAccount`, under the revision they were read for). A submit that
used kept ones commits only if the locked row still has that revision, so they were the account's at the lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from .models import BillingAccount, Plan

TERMS_TTL = 30.0
TERMS_KEPT_MAX = 10_000  # accounts per process; past it the copies start again from empty


class AccountTermsChanged(Exception):
    """The account's plan or watermark rule changed after the submit read them: start it again (not an API error)."""


@dataclass(frozen=True)
class AccountTerms:
    plan: Plan
    watermark: bool
    revision: int = 0  # the account's (BillingAccount.revision) when read
    kept: bool = False  # from this process's copy, not read for this request
    account_id: int | None = None  # the row they were read from

    @property
    def stamp(self) -> tuple:
        """What the submit decided with: the plan (and its last change), the watermark rule, the kept copies."""
        return (self.plan.pk, self.plan.updated_at, self.watermark, self.revision)


def terms_of(account: BillingAccount) -> AccountTerms:
    """The terms a (locked or just read) account row gives, with its plan loaded."""
    return AccountTerms(
        plan=account.plan,
        watermark=account.plan.watermarked or account.watermark_opt_in,
        revision=account.revision,
        account_id=account.pk,
    )


def terms_rows(terms: AccountTerms) -> Q:
    """The account rows whose terms have `terms`' stamp (what `terms_of(row).stamp == terms.stamp` says of a row
    read), as a condition on the row alone, for a statement that checks and writes it at once: the row it was read
    from (a row made again has another id and revision), its plan as last changed, its watermark rule, its revision.
    The plan is an EXISTS on the row's own `plan_id`, not a join: Django writes an UPDATE over a join as `id IN (a
    subquery)`, which PostgreSQL does not evaluate again on a row it waited for behind another transaction's lock."""
    plan = terms.plan
    rows = Q(pk=terms.account_id, plan_id=plan.pk, revision=terms.revision)
    rows &= Exists(Plan.objects.filter(pk=OuterRef("plan_id"), updated_at=plan.updated_at))
    if not plan.watermarked:  # a marking plan marks either way; otherwise the account's opt-in decides
        rows &= Q(watermark_opt_in=terms.watermark)
    return rows


_kept: dict[int, tuple[float, AccountTerms]] = {}  # user id -> (monotonic time read, terms); GIL-atomic updates


def terms_recall(user_id: int) -> AccountTerms | None:
    entry = _kept.get(user_id)
    if entry is None or time.monotonic() - entry[0] > TERMS_TTL:
        return None
    kept = entry[1]
    return AccountTerms(
        plan=kept.plan, watermark=kept.watermark, revision=kept.revision, kept=True, account_id=kept.account_id
    )


def terms_keep(user_id: int, terms: AccountTerms) -> None:
    if len(_kept) >= TERMS_KEPT_MAX:
        _kept.clear()
    _kept[user_id] = (time.monotonic(), terms)


def terms_forget(user_id: int) -> None:
    _kept.pop(user_id, None)


class KeptPerAccount:
    """This process's copies of some of an account's rows, each kept under the account revision it was read for.

    `get(user_id, revision, load)` answers the copy kept for `revision` in the last `TERMS_TTL` seconds, or calls
    `load()` and keeps its answer. The copy is only as good as the revision: a caller passes the one of the terms
    it decides with, and commits only after the account's locked read confirmed that revision (`usage_admit` with
    those terms). A copy loaded after a change it is kept under the older revision of is never confirmed: the
    revision changed with it. (The time limit bounds what a writer that does not change the revision, such as
    the previous release's code during a rolling upgrade, can leave stale.)"""

    def __init__(self, max_accounts: int = TERMS_KEPT_MAX) -> None:
        self._kept: dict[int, tuple[int, float, object]] = {}  # GIL-atomic updates
        self._max = max_accounts

    def get(self, user_id: int, revision: int, load):
        entry = self._kept.get(user_id)
        if entry is not None and entry[0] == revision and time.monotonic() - entry[1] <= TERMS_TTL:
            return entry[2]
        read_at = time.monotonic()
        value = load()
        if len(self._kept) >= self._max:
            self._kept.clear()
        self._kept[user_id] = (revision, read_at, value)
        return value
