"""A submit's plan and watermark rule come from this process's copy (billing/terms.py), confirmed under the account's
lock: a plan changed elsewhere (an operator, a Stripe webhook in another process) decides the very next job."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import EntryKind, LedgerEntry
from billing.services import plan_assign
from billing.terms import terms_forget
from synthesis.models import JobStatus, SynthesisJob
from synthesis.services import synthesis_job_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def free_user(user):
    plan_assign(user=user, slug="free")
    terms_forget(user.pk)
    return user


def _submit(user, text: str, output_format: str = "mp3"):
    return synthesis_job_create(user=user, text=text, voice_id="joe", output_format=output_format)


def _submit_cancel_all(user) -> None:
    """Free the job slots (the jobs stay queued otherwise: no worker runs in these tests)."""
    SynthesisJob.objects.filter(user=user, status=JobStatus.QUEUED).update(status=JobStatus.CANCELLED)


def _account_reads(queries) -> int:
    return sum('FROM "billing_billingaccount"' in q["sql"] for q in queries.captured_queries)


def test_the_next_submit_takes_the_terms_from_the_copy(user):
    plan_assign(user=user, slug="pro")
    _submit(user, "The month's first job sets the account up.")
    _submit_cancel_all(user)
    terms_forget(user.pk)
    with CaptureQueriesContext(connection) as read:
        _submit(user, "This job reads the account's terms.")
    _submit_cancel_all(user)
    with CaptureQueriesContext(connection) as kept:
        _submit(user, "This one takes them from this process's copy.")
    # Both check storage (a new file) and lock the account; only the first read the terms.
    assert (_account_reads(read), _account_reads(kept)) == (3, 2)


def test_a_plan_changed_since_the_copy_decides_the_next_job_and_its_billing(free_user):
    first = _submit(free_user, "Marked on the Free plan.")
    assert first.watermark is True
    plan_assign(user=free_user, slug="pro")  # as another process would: this process's copy is now stale

    second = _submit(free_user, "Not marked once the account is on Pro.")

    assert second.watermark is False  # the flag (and so the cache key) of the plan the account is on now
    assert list(LedgerEntry.objects.filter(job=second).values_list("kind", "amount")) == [
        (EntryKind.RESERVE, -second.characters)
    ]


def test_a_format_the_stale_copy_refuses_is_served_once_the_plan_allows_it(free_user):
    _submit(free_user, "The copy says Free: wav and mp3 only.")
    plan_assign(user=free_user, slug="pro")

    job = _submit(free_user, "Ogg is a Pro format.", output_format="ogg")

    assert job.output_format == "ogg"
    assert job.watermark is False
