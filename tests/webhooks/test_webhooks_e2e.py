"""Through the live stack: a job succeeds in the real worker, and the account's endpoint receives a signed
`job.succeeded` from the worker's delivery task."""

import json
import time

import httpx
import pytest

from accounts.services import api_key_create
from tests.e2e.helpers import bearer, submit
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _wait(predicate, timeout: float, stack):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s\n{stack.logs()}")


def test_a_job_that_succeeds_in_the_worker_reaches_the_receiver_signed(stack, receiver, verify_signature):
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")
    api_key = api_key_create(user=UserFactory(), name="e2e").secret
    created = httpx.post(
        f"{stack.base_url}/v1/webhooks",
        json={"url": receiver.url_for("/hook"), "events": ["job.succeeded"]},
        headers=bearer(api_key),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    webhook_id, signing_secret = created.json()["webhook"]["id"], created.json()["secret"]

    job = submit(stack, api_key, text="Tell my server when this is ready.", format="wav").json()

    _wait(lambda: receiver.log, 120, stack)
    [(request, _)] = receiver.log
    body = request.get_data()
    assert verify_signature(body, request.headers["Odiadev-Signature"], signing_secret)
    event = json.loads(body)
    assert request.headers["Odiadev-Event-Type"] == event["type"] == "job.succeeded"
    assert request.headers["Odiadev-Event-Id"] == event["id"]
    assert event["data"]["job"]["id"] == job["id"]
    assert event["data"]["job"]["status"] == "succeeded"
    assert event["data"]["job"]["audio_url"].startswith(f"{stack.base_url}/v1/tts/{job['id']}/audio?token=")
    # and the account sees the delivery as delivered, with its one attempt
    url = f"{stack.base_url}/v1/webhooks/{webhook_id}/deliveries"

    def delivered():
        [delivery] = httpx.get(url, headers=bearer(api_key), timeout=10).json()["results"]
        return delivery if delivery["status"] == "delivered" else None

    delivery = _wait(delivered, 30, stack)
    assert delivery["event_id"] == event["id"]
    assert [a["status_code"] for a in delivery["attempt_log"]] == [200]
