"""Row locks take only the rows they mean: two accounts on the same plan lock their accounts at the same time
(PostgreSQL only: SQLite has no row locks; CI runs PostgreSQL)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connection, transaction

from billing.models import BillingAccount
from billing.services import account_lock, plan_assign
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite locks the whole database)")


def _lock_timeout(milliseconds: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{int(milliseconds)}ms'")


@pytest.fixture
def held_account_lock():
    """Hold `account_lock(user=...)` in another thread (its own connection and transaction) until the test ends."""
    held, release, threads = threading.Event(), threading.Event(), []

    def hold(user) -> None:
        try:
            with transaction.atomic():
                account_lock(user=user)
                held.set()
                release.wait(30)
        finally:
            connection.close()

    def start(user) -> None:
        thread = threading.Thread(target=hold, args=(user,), daemon=True)
        thread.start()
        threads.append(thread)
        assert held.wait(30), "the other thread never got its lock"

    yield start
    release.set()
    for thread in threads:
        thread.join(30)


def test_two_accounts_on_the_same_plan_lock_at_the_same_time(postgresql, held_account_lock):
    # given two accounts on one plan (one plan row), and the first account locked by a submit in progress
    first, second = UserFactory(), UserFactory()
    plan_assign(user=first, slug="pro")
    plan_assign(user=second, slug="pro")
    plan_ids = set(BillingAccount.objects.filter(user__in=[first, second]).values_list("plan_id", flat=True))
    assert len(plan_ids) == 1
    held_account_lock(first)

    # when the second account is locked, then it does not wait for the first (the shared plan row is not locked)
    with transaction.atomic():
        _lock_timeout(2000)
        started = time.monotonic()
        account = account_lock(user=second)
        waited = time.monotonic() - started
    assert account.user_id == second.pk
    assert waited < 1.0

    # and the same account still waits: the lock is real, and this test would see a wait
    with transaction.atomic():
        _lock_timeout(200)
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            account_lock(user=first)
