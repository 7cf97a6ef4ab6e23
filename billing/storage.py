"""The storage ledger and quota: the bytes an account keeps in storage, and the refusal of new stored work over it.

What counts: the audio its jobs made (a cache hit reuses another job's file and adds nothing) and its voice samples.
Consent recordings are the platform's audit evidence and do not count.

The apps that store files own the rows that point to them; billing keeps the account's figure, the way it keeps the
character balance (services.py): every change is one `StorageEntry` appended while the account row is locked, with
`BillingAccount.storage_bytes` moved by the same delta in the same transaction, so the figure always equals the sum
of the account's entries. The owning app calls `storage_record` in the transaction of its row change, after it;
entries are unique per account, kind and object, so a retried store or delete records once.

Opening. An account from before this ledger has no figure yet (`storage_bytes` is null). The first read opens it:
under the account lock, the figure becomes what the owning apps count in their rows, through the reporters they
register in storage_reporters.py from their `AppConfig.ready` (so billing imports none of them), and an `open`
entry holds it. Until then `storage_record` records nothing: the row change it was told about is in the apps' rows,
which the opening counts. The lock makes that exact: an opening sees every change committed before it, and a
change still in flight (its `storage_record` waits on the lock) finds the account open and records after it. For
the same reason `storage_record` never opens the figure itself: inside the transaction of a new file the reporters
would already count the file, and its entry would count it again.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum

from .errors import storage_quota_exceeded
from .models import BillingAccount, Plan, StorageEntry, StorageKind
from .services import account_ensure
from .storage_reporters import storage_reporters


def _storage_account_lock(*, user) -> BillingAccount:
    """The user's account row, locked until the surrounding transaction ends (created if missing). Unlike
    `account_lock` it does not roll the character period: storage changes must not write character entries."""
    account = account_ensure(user=user)
    return BillingAccount.objects.select_for_update().get(pk=account.pk)


def _append(account: BillingAccount, kind: str, delta: int, ref: str = "") -> StorageEntry:
    """Append one entry and move the figure with it. Precondition: `account` is locked in this transaction."""
    entry = StorageEntry.objects.create(account=account, kind=kind, delta=delta, ref=ref)
    account.storage_bytes = (account.storage_bytes or 0) + delta
    account.save(update_fields=["storage_bytes", "updated_at"])
    return entry


def _open(account: BillingAccount, *, user) -> None:
    """Open the figure from the owning apps' rows. Precondition: `account` is locked, its figure is null."""
    total = sum(int(reporter(user=user) or 0) for reporter in storage_reporters().values())
    _append(account, StorageKind.OPEN, total)


def storage_record(*, user, delta: int, kind: str, ref: str) -> StorageEntry | None:
    """Record that the file of object `ref` (`<app>.<model>:<pk>`) was stored (`store`, `delta` its size) or
    deleted (`delete`, `delta` minus its size) for `user`'s account.

    Call inside the transaction of the row change that stores or lets go of the file, after the change. Returns the
    entry, or None when there is nothing to record: no bytes, already recorded (a retry), or a figure not opened
    yet (its opening will count the rows as this transaction leaves them).
    """
    if kind not in (StorageKind.STORE, StorageKind.DELETE) or not ref:
        raise ValueError("storage_record takes a store or delete of a named object")
    if delta < 0 if kind == StorageKind.STORE else delta > 0:
        raise ValueError(f"a {kind} entry cannot move storage by {delta:+d} bytes")
    if not delta:
        return None
    with transaction.atomic():
        account = _storage_account_lock(user=user)
        if account.storage_bytes is None:
            return None
        if StorageEntry.objects.filter(account=account, kind=kind, ref=ref).exists():
            return None
        return _append(account, kind, delta, ref)


def storage_used_for(*, user) -> int:
    """Bytes the account keeps in storage; the first call for an account from before the ledger opens it."""
    account = account_ensure(user=user)
    if account.storage_bytes is not None:
        return account.storage_bytes
    with transaction.atomic():
        account = _storage_account_lock(user=user)
        if account.storage_bytes is None:  # a parallel first read may have opened it while we waited
            _open(account, user=user)
    return account.storage_bytes


def storage_ledger_sum(*, account: BillingAccount) -> int:
    return StorageEntry.objects.filter(account=account).aggregate(total=Sum("delta"))["total"] or 0


def storage_check(*, user, plan: Plan | None = None) -> None:
    """Refuse new stored work (a synthesis that will store audio, a voice upload) when the account is at or over
    its plan's storage quota. Parallel submits may pass together and overshoot by their own size; the quota is a
    soft limit against runaway storage, not a reservation."""
    plan = plan or account_ensure(user=user).plan
    used = storage_used_for(user=user)
    if used >= plan.storage_quota_bytes:
        raise storage_quota_exceeded(used_bytes=used, quota_bytes=plan.storage_quota_bytes, plan=plan)
