"""The ops panel in a browser: tiles render with values, a kill switch flips (confirmed, with a reason), and the
API refuses cloning right after."""

import re
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.services import api_key_create
from billing.services import plan_assign
from ops.kpis import LATENCY_BOUNDS, bucket_floor
from ops.models import KpiRollup
from tests.factories import ActiveVoiceFactory, QueuedJobFactory, UserFactory

from .browser import browser_page, log_in
from .helpers import bearer

GREEN, RED = "rgb(43, 138, 62)", "rgb(201, 42, 42)"  # app.css --ok and --bad
pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(stack):
    operator, voice = UserFactory(is_staff=True), ActiveVoiceFactory()
    plan_assign(user=voice.user, slug="pro")
    histogram = [0] * (len(LATENCY_BOUNDS) + 1)
    histogram[LATENCY_BOUNDS.index(2.0)] = 40  # 40 jobs of 1.5-2 s
    finished_at = timezone.now() - timedelta(minutes=20)
    for latency in (2.0, 2.0, 2.0, 2.0, 2.0, 34.0):  # the percentiles come from these jobs, the slowest 34 s
        QueuedJobFactory(
            user=voice.user,
            status="succeeded",
            queued_at=finished_at - timedelta(seconds=latency),
            finished_at=finished_at,
            audio="audio/x.wav",
        )
    KpiRollup.objects.create(
        bucket_start=bucket_floor(timezone.now() - timedelta(minutes=10)),
        jobs_finished=50,
        jobs_failed=0,
        cache_hits=10,
        latency_histogram=histogram,
    )
    return operator, voice, api_key_create(user=voice.user, name="ops").secret


def test_ops_panel_tiles_and_a_kill_switch_that_the_api_obeys(stack, people):
    operator, voice, customer_key = people
    with browser_page(stack.base_url) as page:
        log_in(page, operator.email)
        page.goto("/ops/?window=1h")

        expect(page.get_by_test_id("kpi-latency_p50-value")).to_have_text("2.00 s")
        expect(page.get_by_test_id("kpi-latency_p95-value")).to_have_text("34.00 s")  # not a bucket edge (60 s)
        expect(page.get_by_test_id("kpi-latency_p50")).to_have_attribute("data-status", "ok")
        expect(page.get_by_test_id("kpi-cache_hit_rate-value")).to_have_text("20.0%")
        expect(page.get_by_test_id("kpi-cache_hit_rate")).to_have_attribute("data-status", "alert")
        expect(page.get_by_test_id("workers-up")).to_have_class(re.compile(r"\bok\b"))  # at least one is up
        expect(page.locator('[data-testid="chart-latency"] canvas')).to_have_count(1)

        page.get_by_test_id("switch-voice_cloning-reason").fill("GPU pool is being drained")
        page.get_by_test_id("switch-voice_cloning-confirm").check()
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_test_id("switch-voice_cloning-flip").click()

        expect(page.get_by_test_id("switch-voice_cloning-word")).to_have_text("off")
        expect(page.get_by_test_id("recent-actions")).to_contain_text("GPU pool is being drained")
        expect(page.get_by_test_id("recent-action-switch").first).to_contain_text("Turned voice_cloning off.")
        expect(page.get_by_test_id("recent-actions")).not_to_contain_text("{")

        # Colours follow health: maintenance_mode off is normal (green), voice_cloning off is not (red).
        expect(page.get_by_test_id("switch-maintenance_mode-word")).to_have_text("off")
        expect(page.get_by_test_id("switch-maintenance_mode-state")).to_have_css("color", GREEN)
        expect(page.get_by_test_id("switch-voice_cloning-state")).to_have_css("color", RED)
        expect(page.get_by_test_id("switch-new_signups-state")).to_have_css("color", GREEN)

    refused = httpx.post(
        f"{stack.base_url}/v1/tts",
        json={"text": "Say it in my voice.", "voice_id": str(voice.id)},
        headers=bearer(customer_key),
        timeout=30,
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "cloning_disabled"
