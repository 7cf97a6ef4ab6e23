"""The ops panel's figures and actions: KPIs on seeded data with known answers, purge, cache clear, switches."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from billing.models import (
    BillingAccount,
    EntryKind,
    IncidentKind,
    LedgerEntry,
    PaymentIncident,
    RevenueEntry,
    RevenueKind,
)
from billing.services import account_refresh, usage_admit, usage_reserve
from controls.switches import switch_is_on
from odiadev.celery import app
from ops.actions import action_summary, breaker_reset, cache_clear_all, queue_purge, switch_flip
from ops.kpis import clone_quality_window, kpi_series, kpi_tiles, p95_alert_sustained, window_figures
from ops.latency import latency_percentiles
from ops.models import KpiRollup, OpsAction, OpsActionKind
from ops.rollups import rollups_refresh
from synthesis.cache import cache_lookup, cache_store
from synthesis.models import JobStatus, SynthesisJob
from tests.factories import PASSWORD, QueuedJobFactory, UserFactory

NOW = datetime(2026, 11, 20, 12, 2, tzinfo=UTC)


def _finished(user, *, seconds_ago: float, latency: float, status=JobStatus.SUCCEEDED, **fields):
    finished_at = NOW - timedelta(seconds=seconds_ago)
    return QueuedJobFactory(
        user=user,
        status=status,
        queued_at=finished_at - timedelta(seconds=latency),
        finished_at=finished_at,
        audio="audio/x.wav" if status == JobStatus.SUCCEEDED else "",
        **fields,
    )


def _dispute(stripe_id: str, cents: int, *, occurred_at: datetime) -> PaymentIncident:
    return PaymentIncident.objects.create(
        kind=IncidentKind.DISPUTE,
        stripe_id=stripe_id,
        amount_cents=cents,
        currency="usd",
        status="needs_response",
        occurred_at=occurred_at,
    )


@pytest.fixture
def seeded(db):
    """A known hour: 10 engine jobs (latencies 1..10 s), 10 cache hits, 2 failures (one GPU OOM), 4 cloned jobs
    (3 good clones), one hour of GPU time, $45 of invoices minus a $5 refund, one dispute."""
    user = UserFactory()
    for index in range(10):
        _finished(user, seconds_ago=60 + index * 60, latency=index + 0.9)  # 0.9, 1.9 ... 9.9 s
    for index in range(10):
        _finished(user, seconds_ago=90 + index * 60, latency=0.01, cached=True)
    _finished(user, seconds_ago=100, latency=1, status=JobStatus.FAILED, error_code="engine_error")
    _finished(user, seconds_ago=200, latency=1, status=JobStatus.FAILED, error_code="gpu_out_of_memory", engine="dia")
    for index, (similarity, wer) in enumerate([(0.9, 0.05), (0.8, 0.1), (0.76, 0.2), (0.5, 0.0)]):
        _finished(
            user,
            seconds_ago=300 + index,
            latency=20,
            engine="dia",
            voice_kind="cloned",
            clone_similarity=similarity,
            intelligibility_wer=wer,
            intelligibility_scored_at=NOW,
            engine_seconds=900,
        )
    for kind, cents, ref in [(RevenueKind.INVOICE_PAID, 4500, "in_1"), (RevenueKind.REFUND, -500, "re_1")]:
        RevenueEntry.objects.create(
            kind=kind, amount_cents=cents, currency="usd", stripe_object_id=ref, occurred_at=NOW - timedelta(minutes=9)
        )
    _dispute("dp_1", 2900, occurred_at=NOW - timedelta(minutes=7))
    # Last week's traffic, outside the last hour and day.
    _finished(user, seconds_ago=3 * 24 * 3600, latency=50)
    return user


def test_kpis_on_seeded_data_have_the_known_answers(seeded, settings):
    settings.CLONE_SUCCESS_THRESHOLD = 0.75

    written = rollups_refresh(now=NOW, limit=3000)
    hour = window_figures("1h", now=NOW)

    assert written >= 3
    assert hour["jobs_finished"] == 26  # 10 engine + 10 cached + 2 failed + 4 cloned
    assert hour["cache_hit_rate"] == pytest.approx(10 / 24)
    assert hour["error_rate"] == pytest.approx(2 / 26)
    # Engine latencies 0.9, 1.9 ... 9.9 s and four clones of 20 s: the 7th of 14 is 6.9 s, the 14th (a clone) 20 s:
    # the jobs' own values, not the edges of a histogram bucket (8 s, 20 s).
    assert hour["latency_p50"] == pytest.approx(6.9)
    assert hour["latency_p95"] == pytest.approx(20.0)
    assert hour["clone_success_rate"] == pytest.approx(3 / 4)
    assert hour["oom_count"] == 1
    assert hour["gpu_hours"] == pytest.approx(1.0)
    assert hour["revenue_per_gpu_hour"] == pytest.approx(40.0)
    assert hour["refunds_chargebacks"] == 1
    assert window_figures("7d", now=NOW)["jobs_finished"] == 27
    tiles = {tile["key"]: tile for tile in kpi_tiles("1h", now=NOW)}
    assert tiles["revenue_per_gpu_hour"]["status"] == "ok"
    assert tiles["revenue_per_gpu_hour"]["display"] == "$40.00/h"
    assert tiles["cache_hit_rate"]["status"] == "ok"  # 41.7% >= 40%
    assert tiles["latency_p50"]["status"] == "alert"  # 8 s > 4 s
    assert tiles["clone_success_rate"]["status"] == "alert"  # 75% < 95%
    assert tiles["refunds_chargebacks"]["status"] == "alert"
    assert tiles["refunds_chargebacks"]["target"] == "= 0"


def _cloned(user, *, similarity=0.9, wer=None, scored=None, seconds_ago=600, status=JobStatus.SUCCEEDED, **fields):
    scored = wer is not None if scored is None else scored
    return _finished(
        user,
        seconds_ago=seconds_ago,
        latency=5,
        status=status,
        engine="dia",
        voice_kind="cloned",
        clone_similarity=similarity if status == JobStatus.SUCCEEDED else None,
        intelligibility_wer=wer,
        intelligibility_scored_at=NOW - timedelta(seconds=seconds_ago - 5) if scored else None,
        **fields,
    )


def test_clone_success_needs_both_parts_and_counts_a_job_once_it_is_scored(db, user, settings):
    settings.CLONE_SUCCESS_THRESHOLD, settings.INTELLIGIBILITY_WER_THRESHOLD = 0.75, 0.35
    _cloned(user, similarity=0.9, wer=0.05)  # a success
    _cloned(user, similarity=0.9, wer=0.6)  # sounds like the voice, but nobody understands it
    _cloned(user, similarity=0.5, wer=0.05)  # understood, in someone else's voice
    _cloned(user, status=JobStatus.FAILED, error_code="engine_error")  # a failure, with no output to hear
    _cloned(user, similarity=0.9)  # not scored yet: counts neither way
    _cloned(user, similarity=0.9, scored=True)  # scoring failed: counts neither way
    late = _cloned(user, similarity=0.9, seconds_ago=600)
    for wer in (0.04, 0.06):
        _finished(user, seconds_ago=700, latency=1, intelligibility_wer=wer, intelligibility_scored_at=NOW)
    _finished(user, seconds_ago=700, latency=1)  # a built-in job outside the sample

    rollups_refresh(now=NOW, limit=3000)
    quality = clone_quality_window("1h", now=NOW)

    assert window_figures("1h", now=NOW)["clone_success_rate"] == pytest.approx(1 / 4)
    assert quality["clone_jobs"] == 4
    assert quality["clone_similarity_pass_rate"] == pytest.approx(2 / 4)
    assert quality["clone_intelligibility_pass_rate"] == pytest.approx(2 / 4)
    assert quality["clone_success_rate"] == pytest.approx(1 / 4)
    assert quality["clone_wer_mean"] == pytest.approx((0.05 + 0.6 + 0.05) / 3)
    assert (quality["builtin_scored"], quality["builtin_wer_mean"]) == (2, pytest.approx(0.05))
    assert quality["display"]["clone_success_rate"] == "25.0%"

    # A score that arrives half an hour later still lands in its job's bucket.
    later = NOW + timedelta(minutes=30)
    SynthesisJob.objects.filter(pk=late.pk).update(intelligibility_wer=0.1, intelligibility_scored_at=later)
    rollups_refresh(now=later + timedelta(minutes=1), limit=3000)

    assert window_figures("1h", now=later)["clone_success_rate"] == pytest.approx(2 / 5)


def test_the_panel_and_metrics_show_both_parts_of_clone_success(db, user, client, settings):
    settings.CLONE_SUCCESS_THRESHOLD, settings.INTELLIGIBILITY_WER_THRESHOLD = 0.75, 0.35
    now = timezone.now()
    for similarity, wer in ((0.9, 0.05), (0.9, 0.6), (0.5, 0.1), (0.8, 0.2)):
        QueuedJobFactory(
            user=user,
            status=JobStatus.SUCCEEDED,
            audio="audio/x.wav",
            finished_at=now - timedelta(minutes=3),
            voice_kind="cloned",
            clone_similarity=similarity,
            intelligibility_wer=wer,
            intelligibility_scored_at=now,
        )
    staff = UserFactory(is_staff=True)
    operator = Client()
    operator.login(email=staff.email, password=PASSWORD)

    page = operator.get("/ops/?window=1h").content.decode()
    metrics = client.get("/metrics").content.decode()

    assert 'data-testid="clone-quality"' in page
    assert "75.0%" in page  # similarity and intelligibility each pass 3 of 4
    assert "50.0%" in page  # both: 2 of 4
    assert "word error rate ≤ 0.35" in page
    assert 'odiadev_kpi{kpi="clone_similarity_pass_rate",window="1h"} 0.75' in metrics
    assert 'odiadev_kpi{kpi="clone_intelligibility_pass_rate",window="1h"} 0.75' in metrics
    wer_mean = re.search(r'odiadev_kpi\{kpi="clone_wer_mean",window="24h"\} ([0-9.e-]+)', metrics)
    assert float(wer_mean.group(1)) == pytest.approx((0.05 + 0.6 + 0.1 + 0.2) / 4)
    assert "# TYPE odiadev_intelligibility_wer histogram" in metrics
    assert "# TYPE odiadev_clone_checks_total counter" in metrics


def test_rollups_are_idempotent(seeded):
    rollups_refresh(now=NOW, limit=3000)
    first = window_figures("24h", now=NOW)
    rollups_refresh(now=NOW, limit=3000)

    assert window_figures("24h", now=NOW) == first
    assert KpiRollup.objects.filter(bucket_start__gte=NOW - timedelta(hours=1, minutes=2)).count() == 13


def test_a_first_refresh_fills_the_week_in_few_queries_and_counts_what_happened_in_old_buckets(db, user):
    # given a week with no rollup yet: a job three days ago, a refund and a dispute alone in older buckets
    _finished(user, seconds_ago=3 * 24 * 3600, latency=2)
    RevenueEntry.objects.create(
        kind=RevenueKind.REFUND,
        amount_cents=-700,
        currency="usd",
        stripe_object_id="re_9",
        occurred_at=NOW - timedelta(days=4),
    )
    _dispute("dp_9", 700, occurred_at=NOW - timedelta(days=5))

    # when the rollups are refreshed for the first time
    with CaptureQueriesContext(connection) as queries:
        written = rollups_refresh(now=NOW, limit=3000)

    # then every bucket of the week is written, without eleven reads for each empty one (22,000 queries before:
    # now eleven for each of the 6 buckets computed, and the empty ones' INSERTs, 76 rows each on SQLite)
    assert written == KpiRollup.objects.count() == 7 * 24 * 12 + 1
    assert len(queries.captured_queries) < 200, len(queries.captured_queries)
    # and the old buckets hold what happened in them
    week = window_figures("7d", now=NOW)
    assert week["jobs_finished"] == 1
    assert week["refunds_chargebacks"] == 1
    assert KpiRollup.objects.aggregate(total=Sum("revenue_cents"))["total"] == -700
    assert KpiRollup.objects.filter(jobs_finished=0, revenue_cents=0, incidents=0).count() == written - 3


def test_purge_cancels_queued_jobs_releases_their_characters_and_empties_the_queue(db, settings, user):
    settings.SPEECH_ENGINE_QUEUES = {"piper": "purge-test", "dia": "purge-test-gpu"}  # no worker listens here
    account_refresh(user=user)
    jobs = []
    for _ in range(3):
        with transaction.atomic():
            account = usage_admit(user=user, characters=100)
            job = QueuedJobFactory(user=user, text="x" * 100, characters=100)
            usage_reserve(account=account, job=job, characters=100)
            jobs.append(job)
    for job in jobs:
        app.send_task("synthesis.run_job", args=[str(job.id)], queue="purge-test")
    running = QueuedJobFactory(user=user, status=JobStatus.RUNNING)
    balance_before = BillingAccount.objects.get(user=user).balance

    action = queue_purge(reason="bad deploy queued garbage", user=user)

    assert {job.status for job in SynthesisJob.objects.filter(pk__in=[j.pk for j in jobs])} == {JobStatus.CANCELLED}
    assert SynthesisJob.objects.get(pk=running.pk).status == JobStatus.RUNNING, "running jobs finish"
    assert LedgerEntry.objects.filter(job__in=jobs, kind=EntryKind.RELEASE).count() == 3
    assert BillingAccount.objects.get(user=user).balance == balance_before + 300
    assert action.detail == {"jobs_cancelled": 3, "messages": {"purge-test": 3, "purge-test-gpu": 0}}
    assert (action.kind, action.actor, action.reason) == (OpsActionKind.PURGE_QUEUE, user.email, action.reason)
    assert queue_purge(reason="again", user=user).detail["jobs_cancelled"] == 0, "safe to repeat"


def test_cache_clear_removes_only_the_synthesis_cache(db, user):
    job = QueuedJobFactory(user=user)
    cache_store("a" * 64, job.id)
    cache_store("b" * 64, job.id)
    cache.set("switch:voice_cloning", 1, timeout=60)
    redis = get_redis_connection("default")
    # A key of the worker-heartbeat kind that no real worker wrote: gone when the test ends, or a live stack
    # started next would count it as a ready worker.
    heartbeat_key = f"{settings.REDIS_KEY_PREFIX}:workers:someone"
    redis.set(heartbeat_key, "{}", ex=60)
    redis.set("unrelated-app-key", "keep me", ex=60)

    try:
        action = cache_clear_all(reason="voice model upgraded", user=user)
        assert redis.get(heartbeat_key) == b"{}"
        assert redis.get("unrelated-app-key") == b"keep me"
    finally:
        redis.delete(heartbeat_key, "unrelated-app-key")

    assert action.detail == {"entries": 2}
    assert cache_lookup("a" * 64) is None
    assert cache_lookup("b" * 64) is None
    assert cache.get("switch:voice_cloning") == 1


def test_every_action_needs_a_reason(db, user):
    with pytest.raises(Exception, match="Say why"):
        cache_clear_all(reason="  ", user=user)
    assert not OpsAction.objects.exists()


def test_maintenance_mode_refuses_new_jobs_with_503(db, user, issued_key, api):
    switch_flip(name="maintenance_mode", enabled=True, reason="database upgrade", user=user)

    refused = api.post("/v1/tts", {"text": "Hello there."}, format="json")

    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "maintenance"
    assert refused.json()["error"]["message"] == settings.MAINTENANCE_MESSAGE
    assert api.get("/v1/voices").status_code == 200, "everything else works"


def test_a_disabled_engine_refuses_its_voices(db, user, api):
    switch_flip(name="engine_piper", enabled=False, reason="onnxruntime bug", user=user)

    refused = api.post("/v1/tts", {"text": "Hello there."}, format="json")

    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "engine_disabled"
    assert refused.json()["error"]["detail"] == {"engine": "piper"}


def test_closed_signups_create_no_account(db, user):
    switch_flip(name="new_signups", enabled=False, reason="abuse wave", user=user)
    browser = Client()

    page = browser.get("/signup/").content.decode()
    response = browser.post("/signup/", {"email": "new@example.com", "password": PASSWORD})

    assert 'data-testid="signups-closed"' in page
    assert "Sign-ups are closed" in response.content.decode()
    assert not UserFactory._meta.model.objects.filter(email="new@example.com").exists()
    assert switch_is_on("new_signups") is False


def test_the_panel_is_for_staff_only_and_actions_are_confirmed(db, user):
    staff = UserFactory(is_staff=True)
    customer, operator = Client(), Client()
    customer.login(email=user.email, password=PASSWORD)
    operator.login(email=staff.email, password=PASSWORD)

    assert customer.get("/ops/").status_code == 302
    page = operator.get("/ops/?window=1h")
    unconfirmed = operator.post("/ops/switches/voice_cloning/", {"enabled": "off", "reason": "test"}, follow=True)
    confirmed = operator.post(
        "/ops/switches/voice_cloning/", {"enabled": "off", "reason": "GPU drain", "confirm": "yes"}, follow=True
    )

    assert page.status_code == 200
    assert 'data-testid="kpi-latency_p95"' in page.content.decode()
    assert "Nothing flagged." in page.content.decode()
    assert "I am sure" in unconfirmed.content.decode()
    assert switch_is_on("voice_cloning") is False
    assert "voice_cloning is now off" in confirmed.content.decode()
    assert OpsAction.objects.get().detail == {"switch": "voice_cloning", "enabled": False}
    assert APIClient().get("/ops/").status_code == 302
    assert 'href="/ops/"' in operator.get("/admin/").content.decode(), "linked from the admin index"


def test_p95_is_the_slowest_jobs_own_latency_not_a_histogram_edge(db, user):
    # given five engine jobs in the last hour, the slowest 34 s (the old histogram said "60.00 s"), and a cache hit
    for index, latency in enumerate([3, 5, 8, 12, 34]):
        _finished(user, seconds_ago=120 + index * 60, latency=latency)
    _finished(user, seconds_ago=100, latency=0.01, cached=True)
    rollups_refresh(now=NOW, limit=20)

    # when
    tiles = {tile["key"]: tile for tile in kpi_tiles("1h", now=NOW)}
    series = kpi_series(now=NOW, days=1)

    # then the tiles and the chart both carry the jobs' own values
    assert tiles["latency_p95"]["display"] == "34.00 s"
    assert tiles["latency_p50"]["display"] == "8.00 s"
    assert tiles["latency_p95"]["status"] == "warn"  # above 6 s, but not in every bucket of the last 10 minutes
    assert 34.0 in series["latency_p95"]
    assert 60.0 not in series["latency_p95"]


def test_percentiles_are_nearest_ranks_of_the_engine_jobs_in_the_window(db, user):
    # given 20 engine jobs in the last hour taking 1..20 s, a cache hit, a failed job, and a job before the window
    for latency in range(1, 21):
        _finished(user, seconds_ago=60 + latency, latency=latency)
    _finished(user, seconds_ago=30, latency=99, cached=True)
    _finished(user, seconds_ago=30, latency=98, status=JobStatus.FAILED, error_code="engine_error")
    _finished(user, seconds_ago=2 * 3600, latency=97)
    hour = {"since": NOW - timedelta(hours=1), "until": NOW}

    # then each is the latency at rank ceil(q * 20), on every database (PostgreSQL computes them in one query)
    assert latency_percentiles(**hour, qs=(0.0, 0.5, 0.95, 0.951, 1.0)) == {
        0.0: 1.0,
        0.5: 10.0,
        0.95: 19.0,
        0.951: 20.0,
        1.0: 20.0,
    }
    assert latency_percentiles(since=NOW - timedelta(minutes=1), until=NOW) == {0.5: None, 0.95: None}


def test_the_p95_alert_needs_every_recent_bucket_above_six_seconds(db, user):
    # the last 10 minutes before 12:02 are the buckets 11:50, 11:55 and 12:00 (NOW is 12:02)
    _finished(user, seconds_ago=60, latency=7)  # 12:01
    _finished(user, seconds_ago=8 * 60, latency=9)  # 11:54
    assert p95_alert_sustained(now=NOW) is True

    _finished(user, seconds_ago=5 * 60, latency=2)  # 11:57: a fast bucket breaks the run
    assert p95_alert_sustained(now=NOW) is False


def test_recent_actions_read_as_sentences_and_switch_colours_follow_health(db, user):
    staff = UserFactory(is_staff=True)
    operator = Client()
    operator.login(email=staff.email, password=PASSWORD)
    switch_flip(name="voice_cloning", enabled=False, reason="GPU drain", user=staff)
    cache_store_and_clear = cache_clear_all(reason="stale", user=staff)
    reset = breaker_reset(reason="after the fix", user=staff)

    page = operator.get("/ops/").content.decode()

    assert re.fullmatch(
        r"Removed [\d,]+ cache entr(y|ies); past jobs' audio stays\.", action_summary(cache_store_and_clear)
    )
    assert action_summary(reset) == "Forgot 0 counted GPU out-of-memory errors."
    assert "Turned voice_cloning off." in page
    assert "{&#x27;" not in page, "no raw Python dicts"
    maintenance = re.search(r'data-testid="switch-maintenance_mode-state" data-health="(\w+)"', page)
    cloning = re.search(r'data-testid="switch-voice_cloning-state" data-health="(\w+)"', page)
    signups = re.search(r'data-testid="switch-new_signups-state" data-health="(\w+)"', page)
    assert maintenance.group(1) == "healthy"  # off is its normal position
    assert cloning.group(1) == "unhealthy"  # turned off: cloned voices are refused
    assert signups.group(1) == "healthy"
