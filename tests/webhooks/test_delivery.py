"""Deliveries over real HTTP to a local receiver: retries with backoff and every attempt logged, giving up after the
window, resending, test events, and the limits on what an attempt does (redirects, body size, timeouts)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug import Response

from webhooks.models import WebhookDelivery
from webhooks.services import webhook_deliveries_sweep, webhook_delivery_attempt

from .helpers import fail_a_job, only_delivery, received, register

pytestmark = pytest.mark.django_db


def test_a_failed_attempt_is_retried_after_the_backoff_and_every_attempt_is_logged(
    user, receiver, local_targets, verify_signature
):
    local_targets.WEBHOOK_RETRY_SCHEDULE = [2.0]
    receiver.expect_oneshot_request("/hook", method="POST").respond_with_data("boom", status=500)
    receiver.expect_request("/hook", method="POST").respond_with_data("thanks", status=204)
    issued = register(user, receiver.url_for("/hook"))
    fail_a_job(user)
    delivery = only_delivery(issued.endpoint)

    # when the receiver answers 500, the delivery waits for its next attempt
    before = timezone.now()
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "pending"
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.last_status_code == 500
    assert delivery.last_error == "http_error: HTTP 500"
    assert delivery.next_attempt_at >= before + timedelta(seconds=2)
    # and it is not sent again before then
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "skipped"

    time.sleep(1.2)  # due now (within the second of slack a task may run early)
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "delivered"

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert delivery.attempts == 2
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    log = list(delivery.attempt_log.values_list("number", "status_code", "error_code", "response_body", "ip_address"))
    assert log == [(1, 500, "http_error", "boom", "127.0.0.1"), (2, 204, "", "", "127.0.0.1")]
    assert all(attempt.response_ms is not None for attempt in delivery.attempt_log.all())
    # the receiver saw the same event twice, each time freshly signed
    (h1, b1, e1), (h2, b2, e2) = received(receiver)
    assert e1 == e2
    assert h1["Odiadev-Event-Id"] == h2["Odiadev-Event-Id"] == delivery.event_id
    assert verify_signature(b1, h1["Odiadev-Signature"], issued.secret)
    assert verify_signature(b2, h2["Odiadev-Signature"], issued.secret)


def test_after_the_retry_window_the_delivery_fails_and_a_resend_delivers_it(user, api, receiver, local_targets):
    local_targets.WEBHOOK_RETRY_WINDOW = 0
    receiver.expect_oneshot_request("/hook", method="POST").respond_with_data("down", status=503)
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")
    issued = register(user, receiver.url_for("/hook"))
    fail_a_job(user)
    delivery = only_delivery(issued.endpoint)

    assert webhook_delivery_attempt(delivery_id=delivery.id) == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "skipped"  # a failed delivery is not retried

    response = api.post(f"/v1/webhooks/deliveries/{delivery.id}/resend")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "delivered"

    listed = api.get(f"/v1/webhooks/{issued.endpoint.id}/deliveries").json()
    assert listed["count"] == 1
    [item] = listed["results"]
    assert item["status"] == "delivered"
    assert [a["status_code"] for a in item["attempt_log"]] == [503, 200]
    assert item["event_id"] == delivery.event_id
    assert len(receiver.log) == 2


def test_a_delivered_event_can_be_resent_with_the_same_event_id(user, api, receiver, local_targets):
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")
    issued = register(user, receiver.url_for("/hook"))
    fail_a_job(user)
    delivery = only_delivery(issued.endpoint)
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "delivered"

    assert api.post(f"/v1/webhooks/deliveries/{delivery.id}/resend").status_code == 202
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "delivered"

    (h1, _, _), (h2, _, _) = received(receiver)
    assert h1["Odiadev-Event-Id"] == h2["Odiadev-Event-Id"]
    assert h1["Odiadev-Delivery-Id"] == h2["Odiadev-Delivery-Id"] == str(delivery.id)


def test_the_test_event_is_signed_and_tried_once(user, api, receiver, local_targets, verify_signature):
    receiver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    receiver.expect_request("/hook", method="POST").respond_with_data("nope", status=400)
    response = api.post("/v1/webhooks", {"url": receiver.url_for("/hook"), "events": ["job.failed"]}, format="json")
    assert response.status_code == 201, response.content
    endpoint_id, secret = response.json()["webhook"]["id"], response.json()["secret"]

    first = api.post(f"/v1/webhooks/{endpoint_id}/test")
    assert first.status_code == 202
    assert first.json()["event_type"] == "webhook.test"
    assert webhook_delivery_attempt(delivery_id=first.json()["id"]) == "delivered"
    [(headers, body, event)] = received(receiver)
    assert event["type"] == "webhook.test"
    assert event["data"]["webhook"]["id"] == endpoint_id
    assert verify_signature(body, headers["Odiadev-Signature"], secret)

    second = api.post(f"/v1/webhooks/{endpoint_id}/test").json()
    assert webhook_delivery_attempt(delivery_id=second["id"]) == "failed"  # no automatic retry for a test


def test_redirects_are_not_followed(user, receiver, local_targets):
    receiver.expect_request("/hook", method="POST").respond_with_response(
        Response(status=302, headers={"Location": receiver.url_for("/elsewhere")})
    )
    receiver.expect_request("/elsewhere").respond_with_data("should never be reached")
    issued = register(user, receiver.url_for("/hook"))
    fail_a_job(user)
    delivery = only_delivery(issued.endpoint)

    assert webhook_delivery_attempt(delivery_id=delivery.id) == "pending"

    assert [request.path for request, _ in receiver.log] == ["/hook"]
    attempt = delivery.attempt_log.get()
    assert attempt.status_code == 302
    assert attempt.error_code == "redirect_not_followed"
    assert receiver.url_for("/elsewhere") in attempt.error


def test_only_a_prefix_of_a_large_answer_is_kept(user, receiver, local_targets):
    receiver.expect_request("/hook", method="POST").respond_with_data("x" * 200_000)
    issued = register(user, receiver.url_for("/hook"))
    fail_a_job(user)
    delivery = only_delivery(issued.endpoint)

    assert webhook_delivery_attempt(delivery_id=delivery.id) == "delivered"
    assert delivery.attempt_log.get().response_body == "x" * 512


def test_a_slow_endpoint_times_out_and_is_retried(user, receiver, local_targets):
    local_targets.WEBHOOK_READ_TIMEOUT = 0.5

    def slow(request):
        time.sleep(2)
        return Response("late")

    receiver.expect_request("/hook", method="POST").respond_with_handler(slow)
    issued = register(user, receiver.url_for("/hook"))
    fail_a_job(user)
    delivery = only_delivery(issued.endpoint)

    started = time.monotonic()
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "pending"
    assert time.monotonic() - started < 1.9
    attempt = delivery.attempt_log.get()
    assert (attempt.status_code, attempt.error_code) == (None, "timeout")


def test_an_attempt_in_flight_holds_the_delivery_and_the_sweeper_resends_only_lost_ones(user, receiver, local_targets):
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")
    issued = register(user, receiver.url_for("/hook"))
    fail_a_job(user)
    fail_a_job(user)
    in_flight, lost = WebhookDelivery.objects.filter(endpoint=issued.endpoint)
    now = timezone.now()
    # given one delivery whose attempt is running elsewhere, and one whose task message was lost a while ago
    WebhookDelivery.objects.filter(pk=in_flight.pk).update(
        next_attempt_at=now - timedelta(minutes=5), locked_until=now + timedelta(seconds=60)
    )
    WebhookDelivery.objects.filter(pk=lost.pk).update(next_attempt_at=now - timedelta(minutes=5))

    assert webhook_delivery_attempt(delivery_id=in_flight.id) == "skipped"
    assert webhook_deliveries_sweep() == {"resent": 1, "failed": 0}
    assert receiver.log == []

    # a delivery whose attempts never finish (each killed at the time limit) fails an hour after its window
    WebhookDelivery.objects.filter(pk=lost.pk).update(give_up_at=now - timedelta(hours=2))
    assert webhook_deliveries_sweep() == {"resent": 0, "failed": 1}
    lost.refresh_from_db()
    assert lost.status == "failed"
