"""The usage ledger: balance == sum(ledger) >= 0 whatever happens, each job billed once."""

import contextlib
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from djstripe import models as djstripe_models
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from accounts.services import user_email_verified_mark
from billing.errors import QuotaExceeded
from billing.models import BillingAccount, EntryKind, LedgerEntry, Plan
from billing.selectors import usage_summary_for
from billing.services import (
    account_refresh,
    ledger_sum,
    plan_assign,
    plan_ensure,
    usage_adjust,
    usage_admit,
    usage_capture,
    usage_release,
    usage_reserve,
)
from billing.stripe.handlers import stripe_event_apply
from tests.factories import QueuedJobFactory, UserFactory


def _reserve(user, characters):
    """What synthesis_job_create does: admit under the lock, create the job, reserve."""
    with transaction.atomic():
        account = usage_admit(user=user, characters=characters)
        job = QueuedJobFactory(user=user, text="x" * max(characters, 1), characters=characters)
        usage_reserve(account=account, job=job, characters=characters)
    return job


def test_new_account_gets_its_monthly_grant_once(user):
    account = account_refresh(user=user)
    account_refresh(user=user)

    assert account.balance == 10_000  # Free
    assert list(LedgerEntry.objects.values_list("kind", "amount")) == [("grant", 10_000)]


def test_success_captures_failure_releases_and_neither_twice(user):
    ok, bad = _reserve(user, 300), _reserve(user, 200)
    assert BillingAccount.objects.get(user=user).balance == 10_000 - 500

    usage_capture(job=ok)
    usage_capture(job=ok)
    usage_release(job=ok)  # too late: it was captured
    usage_release(job=bad)
    usage_release(job=bad)
    usage_capture(job=bad)  # too late: it was released

    account = BillingAccount.objects.get(user=user)
    assert account.balance == 10_000 - 300 == ledger_sum(account=account)
    kinds = sorted(LedgerEntry.objects.filter(job__isnull=False).values_list("job_id", "kind"))
    assert sorted(kinds) == sorted([(ok.id, "reserve"), (ok.id, "capture"), (bad.id, "reserve"), (bad.id, "release")])


def test_usage_by_day_puts_each_job_on_its_utc_day_and_keeps_thirty_days(user):
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    placed = {
        today + timedelta(minutes=1): 11,  # today, just after midnight UTC
        today - timedelta(minutes=1): 22,  # yesterday, just before midnight
        today - timedelta(days=29): 33,  # the window's first day, at midnight
        today - timedelta(days=29, minutes=1): 44,  # the day before the window
    }
    for at, characters in placed.items():
        job = _reserve(user, characters)
        LedgerEntry.objects.filter(job=job).update(created_at=at)
    released = _reserve(user, 5)
    usage_release(job=released)  # reserved and released today: nets to nothing

    by_day = usage_summary_for(user=user)["by_day"]

    assert len(by_day) == 30
    assert by_day[0]["date"] == (today - timedelta(days=29)).date().isoformat()
    assert by_day[-1]["date"] == today.date().isoformat()
    assert {day["date"]: day["characters"] for day in by_day if day["characters"]} == {
        today.date().isoformat(): 11,
        (today - timedelta(days=1)).date().isoformat(): 22,
        (today - timedelta(days=29)).date().isoformat(): 33,
    }


def test_overdraw_is_refused_with_the_remaining_figure(user):
    _reserve(user, 9_900)

    with pytest.raises(QuotaExceeded) as refused:
        _reserve(user, 101)

    assert refused.value.detail["remaining"] == 100
    assert refused.value.code == "quota_exceeded"


def test_upgrade_grants_the_difference_at_once(user, other_user):
    account_refresh(user=user)

    plan_assign(user=user, slug="starter", assigned_by=other_user)

    account = BillingAccount.objects.get(user=user)
    assert account.balance == 100_000
    adjustment = LedgerEntry.objects.get(kind=EntryKind.ADJUST)
    assert (adjustment.amount, adjustment.reason, adjustment.created_by) == (90_000, "upgrade to Starter", other_user)


def test_an_upgrade_before_the_email_is_verified_is_granted_once_at_verification(other_user):
    unverified = UserFactory(email_verified_at=None)
    plan_assign(user=unverified, slug="starter", assigned_by=other_user)
    assert BillingAccount.objects.get(user=unverified).balance == 0, "nothing before the email is verified"

    assert user_email_verified_mark(user=unverified)
    user_email_verified_mark(user=unverified)

    account = BillingAccount.objects.get(user=unverified)
    assert account.balance == 100_000 == ledger_sum(account=account), "Starter's month, once"
    assert list(LedgerEntry.objects.filter(account=account).values_list("kind", "amount")) == [("grant", 100_000)]


def test_adjustment_needs_a_reason_and_cannot_go_below_zero(user):
    with pytest.raises(ValueError, match="reason"):
        usage_adjust(user=user, amount=5, reason="")
    with pytest.raises(QuotaExceeded):
        usage_adjust(user=user, amount=-20_000, reason="clawback")
    usage_adjust(user=user, amount=-10_000, reason="support: duplicate account")
    assert BillingAccount.objects.get(user=user).balance == 0


@settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
class LedgerMachine(RuleBasedStateMachine):
    """Any sequence of reserve / capture / release / grant / adjust / webhook, including replays, keeps the
    invariants."""

    @initialize()
    def account(self):
        self.user = UserFactory()
        self.jobs = []
        self.events = []
        for slug in ("starter", "pro", "business"):
            plan_ensure(slug=slug)
            Plan.objects.filter(slug=slug).update(stripe_price_id=f"price_{slug}")
        self.customer = djstripe_models.Customer.objects.create(
            id=f"cus_prop{self.user.pk}", subscriber=self.user, livemode=False, stripe_data={}
        )
        account_refresh(user=self.user)
        BillingAccount.objects.filter(user=self.user).update(stripe_customer_id=self.customer.id)

    @rule(characters=st.integers(min_value=0, max_value=6_000))
    def reserve(self, characters):
        with contextlib.suppress(QuotaExceeded):
            self.jobs.append(_reserve(self.user, characters))

    @rule(data=st.data())
    def capture(self, data):
        if self.jobs:
            usage_capture(job=data.draw(st.sampled_from(self.jobs)))

    @rule(data=st.data())
    def release(self, data):
        if self.jobs:
            usage_release(job=data.draw(st.sampled_from(self.jobs)))  # replays included: same job drawn again

    @rule(amount=st.integers(min_value=-15_000, max_value=15_000))
    def adjust(self, amount):
        with contextlib.suppress(QuotaExceeded):
            usage_adjust(user=self.user, amount=amount, reason="property test")

    @rule(slug=st.sampled_from(["free", "starter", "pro"]))
    def change_plan(self, slug):
        plan_assign(user=self.user, slug=slug)

    @rule(
        slug=st.sampled_from(["starter", "pro", "business"]),
        status=st.sampled_from(["active", "past_due", "canceled", "incomplete"]),
    )
    def webhook(self, slug, status):
        """A subscription event, as dj-stripe leaves it after re-reading the subscription from Stripe."""
        sub_id = f"sub_prop{self.user.pk}"
        data = {
            "id": sub_id,
            "object": "subscription",
            "customer": self.customer.id,
            "status": status,
            "items": {"object": "list", "data": [{"price": {"id": f"price_{slug}"}}]},
            "metadata": {},
        }
        djstripe_models.Subscription.objects.update_or_create(
            id=sub_id, defaults={"customer": self.customer, "livemode": False, "stripe_data": data}
        )
        event = djstripe_models.Event.objects.create(
            id=f"evt_prop{self.user.pk}_{len(self.events)}",
            type="customer.subscription.updated",
            livemode=False,
            created=timezone.now(),
            data={"object": data},
            stripe_data={"data": {"object": data}},
        )
        self.events.append(event)
        stripe_event_apply(event=event)

    @rule(data=st.data())
    def replay_webhook(self, data):
        if self.events:
            assert stripe_event_apply(event=data.draw(st.sampled_from(self.events))) == "duplicate"

    @invariant()
    def balance_is_the_ledger_sum_and_never_negative(self):
        if not hasattr(self, "user"):
            return
        account = BillingAccount.objects.filter(user=self.user).first()
        if account is None:
            return
        assert account.balance == ledger_sum(account=account)
        assert account.balance >= 0

    @invariant()
    def each_job_is_settled_at_most_once(self):
        for job in getattr(self, "jobs", []):
            kinds = list(LedgerEntry.objects.filter(job=job).values_list("kind", flat=True))
            assert kinds.count("reserve") == 1
            assert kinds.count("capture") + kinds.count("release") <= 1


@pytest.mark.django_db
def test_ledger_invariants_hold_for_any_sequence():
    LedgerMachine.TestCase().runTest()
