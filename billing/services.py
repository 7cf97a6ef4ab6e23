"""Writes for billing: plan assignment and the usage ledger.

Every change of an account's balance is one `LedgerEntry` appended while the account row is locked
(`SELECT ... FOR UPDATE`; a cache hit's conditional UPDATE, `usage_take`), with the account's `balance` column moved
by the same amount in the same transaction.
So the balance always equals the ledger's sum, a database constraint keeps it from going negative, and parallel
submits queue on the lock instead of overdrawing. Entries per job are unique by kind, so a retried or replayed
transition cannot bill twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from .errors import ConcurrencyLimit, QuotaExceeded
from .models import BillingAccount, EntryKind, LedgerEntry, Plan, revision_new
from .plans import DEFAULT_PLAN_SLUG, PLAN_CATALOG
from .terms import AccountTerms, AccountTermsChanged, terms_forget, terms_of, terms_rows


def plan_ensure(*, slug: str) -> Plan:
    """The plan with `slug`, created from the shipped catalog if the database lacks it."""
    spec = next(plan for plan in PLAN_CATALOG if plan["slug"] == slug)
    plan, _ = Plan.objects.get_or_create(slug=slug, defaults={k: v for k, v in spec.items() if k != "slug"})
    return plan


# ---------------------------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------------------------
def current_period(now: datetime | None = None) -> str:
    return (now or timezone.now()).astimezone(UTC).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


# ---------------------------------------------------------------------------------------------------------------
# Accounts
# ---------------------------------------------------------------------------------------------------------------
def account_ensure(*, user) -> BillingAccount:
    account = BillingAccount.objects.select_related("plan").filter(user=user).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return BillingAccount.objects.create(user=user, plan=plan_ensure(slug=DEFAULT_PLAN_SLUG))
    except IntegrityError:  # created by a parallel request
        return BillingAccount.objects.select_related("plan").get(user=user)


def account_lock(*, user) -> BillingAccount:
    """The user's account row, locked until the surrounding transaction ends. Call inside transaction.atomic."""
    # of=("self",): the account row only. Without it PostgreSQL also locks the joined plan row, so submits from
    # different accounts on the same plan waited for each other.
    locked = BillingAccount.objects.select_for_update(of=("self",)).select_related("plan")
    account = locked.filter(user=user).first()
    if account is None:  # never created yet (one query saved on every other call)
        account_ensure(user=user)
        account = locked.get(user=user)
    _roll_period(account)
    return account


def _append(
    account: BillingAccount,
    kind: str,
    amount: int,
    *,
    period: str | None = None,
    job=None,
    cached=False,
    reason: str = "",
    by=None,
) -> LedgerEntry:
    """Append one entry and move the balance with it. Precondition: `account` is locked in this transaction."""
    entry = LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        period=period or account.period or current_period(),
        job=job,
        cached=cached,
        reason=reason,
        created_by=by,
    )
    account.balance += amount
    account.save(update_fields=["balance", "period", "updated_at"])
    return entry


def account_refresh(*, user) -> BillingAccount:
    """The account with this month's grant applied (a write, once a month, under the account lock)."""
    with transaction.atomic():
        return account_lock(user=user)


def _roll_period(account: BillingAccount) -> None:
    """Expire last month's unused balance and grant this month's, once per month. Precondition: locked."""
    period = current_period()
    if account.period == period:
        return
    if account.period and account.balance:
        _append(account, EntryKind.EXPIRE, -account.balance, period=account.period)
    account.period = period
    if account.user.email_verified_at is None:
        # A sign-up that has not verified its email gets no characters: verifying grants the month then
        # (accounts.services.user_email_verified_mark -> account_grant_ensure).
        account.save(update_fields=["period", "updated_at"])
        return
    _append(account, EntryKind.GRANT, account.plan.monthly_characters, period=period)


def account_grant_ensure(*, user) -> LedgerEntry | None:
    """Grant this month's characters if the account has no grant this month yet (an account whose email was just
    verified); None if it has. Once per month, also in parallel (ledger_one_grant_per_period)."""
    with transaction.atomic():
        account = account_lock(user=user)
        if LedgerEntry.objects.filter(account=account, period=account.period, kind=EntryKind.GRANT).exists():
            return None
        return _append(account, EntryKind.GRANT, account.plan.monthly_characters, period=account.period)


def plan_assign(*, user, slug: str, assigned_by=None) -> BillingAccount:
    """Move the account to another plan. An upgrade grants the difference for the rest of the month at once."""
    with transaction.atomic():
        account = account_lock(user=user)
        new_plan = plan_ensure(slug=slug)
        extra = new_plan.monthly_characters - account.plan.monthly_characters
        account.plan = new_plan
        account.assigned_by = assigned_by
        account.save(update_fields=["plan", "assigned_by", "updated_at"])
        # Only on top of this month's grant: an account not granted yet (email not verified) gets the new plan's
        # whole month when it is (account_grant_ensure), so an upgrade before then would be paid twice.
        granted = LedgerEntry.objects.filter(account=account, period=account.period, kind=EntryKind.GRANT).exists()
        if extra > 0 and granted:
            _append(account, EntryKind.ADJUST, extra, reason=f"upgrade to {new_plan.name}", by=assigned_by)
    return account


def account_watermark_set(*, user, opt_in: bool) -> BillingAccount:
    """Opt the account's new audio in to (or out of) the provenance watermark. A plan that marks its audio marks it
    either way; audio already made keeps what it has (the mark is part of the cache key, so no hit crosses over)."""
    account = account_ensure(user=user)
    BillingAccount.objects.filter(pk=account.pk).update(watermark_opt_in=opt_in, updated_at=timezone.now())
    account.watermark_opt_in = opt_in
    return account


def account_revision_bump(*, user_id: int) -> None:
    """Call in the transaction that changes the account's pronunciations or webhook endpoints: gives the account a
    new `revision`, so that no process's copy of them read before the change is confirmed by a submit's locked read
    (billing/terms.py). Locks the account row until the transaction ends. An account without a row yet has no
    copies kept anywhere: nothing to change."""
    BillingAccount.objects.filter(user_id=user_id).update(revision=revision_new())
    transaction.on_commit(lambda: terms_forget(user_id))  # this process reads the new revision at once


# ---------------------------------------------------------------------------------------------------------------
# Usage: admit -> reserve -> capture | release
# ---------------------------------------------------------------------------------------------------------------
def usage_admit(*, user, characters: int, active_jobs=None, terms: AccountTerms | None = None) -> BillingAccount:
    """Lock the account and check a new job fits: characters left and, when `active_jobs` (a callable counting
    the account's jobs in progress) is given, a free job slot. The count runs under the lock, so parallel submits
    see each other's jobs. With `terms` (what the submit decided with before the lock), AccountTermsChanged when the
    locked row's differ (billing/terms.py).

    Call inside the transaction that creates the job, then `usage_reserve` with the saved job.
    """
    account = account_lock(user=user)
    if terms is not None and terms_of(account).stamp != terms.stamp:
        terms_forget(user.pk)
        raise AccountTermsChanged()
    plan = account.plan
    if active_jobs is not None:
        active = active_jobs()
        if active >= plan.concurrent_jobs:
            raise ConcurrencyLimit(
                f"You have {active} jobs in progress; the {plan.name} plan runs {plan.concurrent_jobs} at a time. "
                "Wait for one to finish, or upgrade for more.",
                detail={"active_jobs": active, "limit": plan.concurrent_jobs},
            )
    if characters > account.balance:
        raise QuotaExceeded(
            f"This request needs {characters} characters and {account.balance} are left this month on the "
            f"{plan.name} plan. Upgrade on the Billing page, or wait for next month's allowance.",
            detail={"needed": characters, "remaining": account.balance, "period": account.period},
        )
    return account


def usage_reserve(*, account: BillingAccount, job, characters: int, cached: bool = False) -> LedgerEntry:
    """Hold the job's characters. Precondition: `account` came from `usage_admit` in this transaction."""
    return _append(account, EntryKind.RESERVE, -characters, job=job, cached=cached)


@dataclass(frozen=True)
class Taken:
    """Characters taken off an account's balance by `usage_take`, for the ledger entries that record them."""

    account_id: int
    period: str
    characters: int


def usage_take(*, user, terms: AccountTerms, characters: int) -> Taken:
    """Admit a job that is final as it is created and takes no job slot (a cache hit) and take its characters off the
    balance at once; `usage_reserve_captured` then records them with the saved job, in the same transaction.

    Usually one statement: an UPDATE of the account's row on the conditions `usage_admit`'s locked read checks (the
    balance is this month's and holds the characters, the row's terms are `terms`), which locks the row as that read
    does. A row that does not meet them (a new month, changed terms, too few characters, no account yet) is left to
    `usage_admit`, which rolls the month, raises AccountTermsChanged or refuses with the figures."""
    now = timezone.now()
    period = current_period(now)
    rows = BillingAccount.objects.filter(terms_rows(terms), user=user, period=period, balance__gte=characters)
    if rows.update(balance=F("balance") - characters, updated_at=now):
        return Taken(account_id=terms.account_id, period=period, characters=characters)
    account = usage_admit(user=user, terms=terms, characters=characters)
    account.balance -= characters
    account.save(update_fields=["balance", "period", "updated_at"])
    return Taken(account_id=account.pk, period=account.period, characters=characters)


def usage_reserve_captured(*, taken: Taken, job) -> LedgerEntry:
    """Record characters `usage_take` took for `job` (created in this transaction, so no other entry of it exists
    yet): its reservation and capture at once, in one INSERT, as `usage_reserve` then `usage_capture` would."""
    _, capture = LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                account_id=taken.account_id, kind=kind, amount=amount, period=taken.period, job=job, cached=True
            )
            for kind, amount in ((EntryKind.RESERVE, -taken.characters), (EntryKind.CAPTURE, 0))
        ]
    )
    return capture


def usage_capture(*, job) -> LedgerEntry | None:
    """Make the job's reservation final (it succeeded). Once per job; a no-op without a reservation."""
    reserve = LedgerEntry.objects.filter(job=job, kind=EntryKind.RESERVE).select_related("account").first()
    if reserve is None or LedgerEntry.objects.filter(job=job, kind=EntryKind.RELEASE).exists():
        return None
    entry, _ = LedgerEntry.objects.get_or_create(
        job=job,
        kind=EntryKind.CAPTURE,
        defaults={"account": reserve.account, "amount": 0, "period": reserve.period, "cached": reserve.cached},
    )
    return entry


def usage_release(*, job) -> LedgerEntry | None:
    """Give the job's characters back (it failed or was cancelled). Once per job; never after a capture."""
    with transaction.atomic():
        account = account_lock(user=job.user)
        reserve = LedgerEntry.objects.filter(job=job, kind=EntryKind.RESERVE).first()
        if (
            reserve is None
            or LedgerEntry.objects.filter(job=job, kind__in=[EntryKind.RELEASE, EntryKind.CAPTURE]).exists()
        ):
            return None
        return _append(
            account, EntryKind.RELEASE, -reserve.amount, period=reserve.period, job=job, cached=reserve.cached
        )


def usage_adjust(*, user, amount: int, reason: str, by=None) -> LedgerEntry:
    """An operator's correction, with its reason. It may not take the balance below zero."""
    if not reason.strip():
        raise ValueError("an adjustment needs a reason")
    with transaction.atomic():
        account = account_lock(user=user)
        if account.balance + amount < 0:
            raise QuotaExceeded(
                f"The adjustment would leave {account.balance + amount} characters.",
                detail={"balance": account.balance, "amount": amount},
            )
        return _append(account, EntryKind.ADJUST, amount, reason=reason, by=by)


def ledger_sum(*, account: BillingAccount) -> int:
    return LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or 0


def cache_hits_billed() -> bool:
    return settings.TTS_BILL_CACHE_HITS
