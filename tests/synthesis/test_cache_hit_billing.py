"""A cache hit is admitted and charged in one statement (`billing.services.usage_take`): an UPDATE of the account's
row on the conditions the locked read checks. These tests hold it to the locked read's answers wherever the UPDATE
cannot decide alone (a new month, terms changed elsewhere, too few characters), and to exact billing when hits race
for the last characters."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing.errors import PlanForbids, QuotaExceeded
from billing.models import BillingAccount, EntryKind, LedgerEntry, Plan
from billing.services import account_refresh, ledger_sum, plan_assign, usage_adjust
from billing.terms import terms_of, terms_rows
from synthesis.models import SynthesisJob
from synthesis.runner import synthesis_job_execute
from synthesis.services import synthesis_job_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "The same words, asked for again by a customer who pays for each time."


@pytest.fixture
def cached(pro_unread):
    """`pro_unread`'s account with audio for TEXT in the cache, and this process's copy of its terms."""
    first = synthesis_job_create(user=pro_unread, text=TEXT, voice_id="joe", output_format="mp3")
    assert synthesis_job_execute(job_id=first.id) == "succeeded"
    assert _hit(pro_unread).cached
    return pro_unread


def _hit(user) -> SynthesisJob:
    return synthesis_job_create(user=user, text=TEXT, voice_id="joe", output_format="mp3")


def _entries(job) -> list[tuple[str, int]]:
    return sorted(LedgerEntry.objects.filter(job=job).values_list("kind", "amount"))


def _assert_ledger_holds(user) -> None:
    account = BillingAccount.objects.get(user=user)
    assert account.balance == ledger_sum(account=account)


def _assert_charged_once(job, *, balance_before: int) -> None:
    """`job` was served from the cache, its characters reserved and captured once and taken off the balance."""
    assert job.cached
    assert _entries(job) == sorted([(EntryKind.RESERVE, -job.characters), (EntryKind.CAPTURE, 0)])
    assert BillingAccount.objects.get(user=job.user).balance == balance_before - job.characters
    _assert_ledger_holds(job.user)


def test_a_hit_charges_the_balance_and_records_it_once(cached):
    balance = BillingAccount.objects.get(user=cached).balance

    job = _hit(cached)

    _assert_charged_once(job, balance_before=balance)


def test_a_hit_in_a_new_month_first_expires_the_old_balance_and_grants_the_month(cached):
    # given an account whose balance and entries belong to an earlier month (the month turned since its last job)
    BillingAccount.objects.filter(user=cached).update(period="2000-01")
    LedgerEntry.objects.filter(account__user=cached).update(period="2000-01")

    job = _hit(cached)

    # then the hit rolled the month under the lock (expire, grant) and was charged from the new month's grant
    account = BillingAccount.objects.get(user=cached)
    assert account.period == timezone.now().strftime("%Y-%m")
    granted = LedgerEntry.objects.get(account=account, kind=EntryKind.GRANT, period=account.period).amount
    assert granted == account.plan.monthly_characters
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.EXPIRE, period="2000-01").exists()
    assert account.balance == granted - job.characters
    _assert_ledger_holds(cached)


def test_a_hit_that_needs_more_than_is_left_is_refused_with_the_figures_and_writes_nothing(cached):
    account = account_refresh(user=cached)
    usage_adjust(user=cached, amount=-(account.balance - 10), reason="test: nearly spent")
    jobs = SynthesisJob.objects.count()

    with pytest.raises(QuotaExceeded) as refused:
        _hit(cached)

    assert refused.value.detail["remaining"] == 10
    assert SynthesisJob.objects.count() == jobs
    assert BillingAccount.objects.get(user=cached).balance == 10
    _assert_ledger_holds(cached)


def test_a_plan_changed_since_the_copy_is_the_one_a_hit_is_admitted_under(cached):
    # given this process's copy of the terms (Pro), and the account moved to Business elsewhere
    plan_assign(user=cached, slug="business")
    assert BillingAccount.objects.get(user=cached).plan.slug == "business"
    balance = BillingAccount.objects.get(user=cached).balance

    job = _hit(cached)

    # then the hit was decided again on the row's terms and charged once
    _assert_charged_once(job, balance_before=balance)


def test_a_plan_edited_since_the_copy_makes_the_hit_decide_again(cached):
    # given the Pro plan edited by an operator after this process kept its copy: its formats no longer include mp3
    pro = Plan.objects.get(slug="pro")
    pro.allowed_formats = [fmt for fmt in pro.allowed_formats if fmt != "mp3"]
    pro.save()
    balance = BillingAccount.objects.get(user=cached).balance

    # then the hit is refused on the plan as it is now (the copy, which allowed mp3, was not trusted), charging nothing
    with pytest.raises(PlanForbids) as refused:
        _hit(cached)
    assert refused.value.code == "plan_forbids_format"
    assert BillingAccount.objects.get(user=cached).balance == balance


@pytest.mark.parametrize(
    "change",
    ["nothing", "plan", "plan edited", "opt-in on an unmarked plan", "opt-in on a marking plan", "revision", "row"],
)
def test_terms_rows_matches_a_row_exactly_when_its_stamp_is_the_terms_stamp(change):
    user = UserFactory()
    plan_assign(user=user, slug="free" if change == "opt-in on a marking plan" else "starter")
    account = account_refresh(user=user)
    terms = terms_of(BillingAccount.objects.select_related("plan").get(pk=account.pk))
    rows = BillingAccount.objects.filter(user=user)
    if change == "plan":
        plan_assign(user=user, slug="pro")
    elif change == "plan edited":
        Plan.objects.filter(pk=account.plan_id).update(updated_at=timezone.now() + timedelta(seconds=1))
    elif change.startswith("opt-in"):
        rows.update(watermark_opt_in=True)
    elif change == "revision":
        rows.update(revision=account.revision + 1)
    elif change == "row":  # the account's row deleted and made again (a new id and revision, the same terms else)
        rows.delete()
        account_refresh(user=user)
    row = BillingAccount.objects.select_related("plan").get(user=user)

    matched = rows.filter(terms_rows(terms)).exists()

    same_stamp = terms_of(row).stamp == terms.stamp and row.pk == terms.account_id
    assert matched == same_stamp
    assert matched == (change in ("nothing", "opt-in on a marking plan"))


def test_hits_racing_for_the_last_characters_admit_exactly_what_the_balance_holds(cached):
    # given eight texts with audio in the cache (eight sources: the hits do not queue on one source's row lock but
    # on the account's), characters for exactly three hits, and the eight hits at once from threads of their own
    texts = [f"Text number {n} for the race, of the same length." for n in range(8)]
    for text in texts:
        job = synthesis_job_create(user=cached, text=text, voice_id="joe", output_format="mp3")
        assert synthesis_job_execute(job_id=job.id) == "succeeded"
    characters = len(texts[0])
    account = account_refresh(user=cached)
    usage_adjust(user=cached, amount=-(account.balance - 3 * characters - 5), reason="test: three hits left")
    barrier, outcomes = threading.Barrier(len(texts)), []

    def hit(text):
        try:
            barrier.wait(10)
            job = synthesis_job_create(user=cached, text=text, voice_id="joe", output_format="mp3")
            outcomes.append("served" if job.cached else "synthesized")
        except QuotaExceeded:
            outcomes.append("quota_exceeded")
        except Exception as exc:  # anything else fails the test, shown by the assertion below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=hit, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # then three were served and charged, five refused, and the balance is what was left, never below zero
    assert sorted(outcomes) == ["quota_exceeded"] * 5 + ["served"] * 3
    assert BillingAccount.objects.get(user=cached).balance == 5
    _assert_ledger_holds(cached)
