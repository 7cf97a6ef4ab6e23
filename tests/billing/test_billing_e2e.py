"""Billing against the real stack: usage figures, a quota race of 50 parallel submits, plan limits, and a job
whose worker is killed mid-run billed exactly once."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from accounts.services import api_key_create
from billing.models import BillingAccount, LedgerEntry
from billing.services import account_refresh, ledger_sum, plan_assign, usage_adjust
from core.heartbeat import worker_is_alive
from synthesis.models import FINAL_STATUSES, SynthesisJob
from synthesis.sweeper import synthesis_jobs_sweep
from tests.e2e.helpers import bearer, submit
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _customer(plan: str):
    user = UserFactory()
    plan_assign(user=user, slug=plan)
    return user, api_key_create(user=user, name="billing").secret


def _wait_final(job_ids, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if SynthesisJob.objects.filter(pk__in=job_ids).exclude(status__in=FINAL_STATUSES).count() == 0:
            return
        time.sleep(0.2)
    raise AssertionError("jobs not final in time")


def _assert_billed_once(user):
    account = BillingAccount.objects.get(user=user)
    assert account.balance == ledger_sum(account=account)
    assert account.balance >= 0
    for job in SynthesisJob.objects.filter(user=user):
        kinds = sorted(LedgerEntry.objects.filter(job=job).values_list("kind", flat=True))
        expected = ["capture", "reserve"] if job.status == "succeeded" else ["release", "reserve"]
        assert kinds == expected, (job.status, kinds)


def test_usage_reports_the_month_and_today(stack):
    _, secret = _customer("starter")
    assert submit(stack, secret, text="Twenty-six characters here", wait=True).json()["status"] == "succeeded"

    usage = httpx.get(f"{stack.base_url}/v1/usage", headers=bearer(secret), timeout=10).json()

    assert usage["plan"]["slug"] == "starter"
    assert usage["characters"] == {"granted": 100_000, "used": 26, "remaining": 100_000 - 26}
    assert len(usage["by_day"]) == 30
    assert usage["by_day"][-1]["characters"] == 26
    assert usage["period"]["start"] < usage["period"]["end"]


def test_fifty_parallel_submits_never_overdraw_and_bill_each_job_once(stack):
    user, secret = _customer("business")  # ten jobs at a time: the quota, not the job slots, is what binds
    account_refresh(user=user)
    usage_adjust(user=user, amount=-(2_000_000 - 1_000), reason="test: nearly spent")
    texts = []
    for n in range(50):
        # Every fifth request is text the engine cannot speak: it fails, and its characters must come back.
        text = "." * 150 if n % 5 == 0 else f"Request number {n}. " + "The quick brown fox jumps. " * 5
        texts.append(text[:150])

    def post(text):
        return submit(stack, secret, text=text, format="wav")

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(post, texts))

    admitted = [r.json() for r in responses if r.status_code == 202]
    refused = [r.json()["error"]["code"] for r in responses if r.status_code != 202]
    assert len(admitted) >= 1
    assert set(refused) <= {"quota_exceeded", "concurrency_limit"}
    assert "quota_exceeded" in refused
    _wait_final([job["id"] for job in admitted])
    _assert_billed_once(user)
    failed = SynthesisJob.objects.filter(user=user, status="failed").count()
    succeeded = SynthesisJob.objects.filter(user=user, status="succeeded")
    succeeded_chars = sum(succeeded.values_list("characters", flat=True))
    assert succeeded_chars <= 1_000
    assert BillingAccount.objects.get(user=user).balance == 1_000 - succeeded_chars
    assert failed + succeeded.count() == len(admitted)
    # At no moment did the admitted characters exceed what was left (characters of failed jobs came back and
    # could be admitted again): the running balance, entry by entry, never went below zero.
    running = 0
    for amount in LedgerEntry.objects.filter(account__user=user).order_by("id").values_list("amount", flat=True):
        running += amount
        assert running >= 0


def test_free_plan_limits_formats_length_and_marks_audio_for_watermarking(stack):
    _, secret = _customer("free")

    too_long = submit(stack, secret, text="a" * 1_001)
    flac = submit(stack, secret, text="Lossless please.", format="flac")
    ok = submit(stack, secret, text="Hello from the free plan.", format="mp3", wait=True)

    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "text_too_long"
    assert too_long.json()["error"]["detail"]["max_characters"] == 1_000
    assert flac.status_code == 402
    assert flac.json()["error"]["code"] == "plan_forbids_format"
    assert ok.json()["watermark"] is True
    paid = _customer("starter")[1]
    assert submit(stack, paid, text="Hello from the free plan.", format="mp3", wait=True).json()["watermark"] is False


def test_concurrency_limit_is_429_with_a_message(stack):
    _, secret = _customer("free")  # one job at a time
    first = submit(stack, secret, text="A long enough text to keep the worker busy for a moment. " * 10)
    second = submit(stack, secret, text="And another one right away.")

    assert first.status_code == 202
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "concurrency_limit"
    assert "at a time" in second.json()["error"]["message"]


def test_a_job_whose_worker_is_killed_is_retried_and_billed_once(stack):
    user, secret = _customer("pro")
    text = " ".join(f"Sentence number {n} is here to make this job take a few seconds." for n in range(70))[:4_900]
    job_id = submit(stack, secret, text=text, format="wav").json()["id"]

    deadline = time.monotonic() + 30
    while (job := SynthesisJob.objects.get(pk=job_id)).status != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    hostname, pid = job.worker.rsplit(":", 1)
    os.kill(int(pid), signal.SIGKILL)  # the worker process dies mid-synthesis

    # Once its heartbeat has lapsed, the sweeper gives the job to a live worker.
    deadline = time.monotonic() + 30
    while worker_is_alive(job.worker):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert synthesis_jobs_sweep()["resent"] == 1
    _wait_final([job_id])

    job.refresh_from_db()
    assert job.status == "succeeded"
    assert job.attempts == 2
    assert job.worker != f"{hostname}:{pid}"
    _assert_billed_once(user)
