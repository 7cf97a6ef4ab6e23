"""Deliveries are signed so that the verification code docs/webhooks.md documents accepts them, and only them."""

import time

import pytest

from webhooks.services import webhook_delivery_attempt, webhook_endpoint_rotate_secret
from webhooks.signing import signature_header

from .helpers import fail_a_job, only_delivery, received, register

pytestmark = pytest.mark.django_db


def test_delivery_verifies_with_the_documented_snippet_and_carries_the_event(
    user, receiver, local_targets, verify_signature
):
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")
    issued = register(user, receiver.url_for("/hook"))
    job = fail_a_job(user)
    delivery = only_delivery(issued.endpoint)

    assert webhook_delivery_attempt(delivery_id=delivery.id) == "delivered"

    [(headers, body, event)] = received(receiver)
    assert verify_signature(body, headers["Odiadev-Signature"], issued.secret)
    assert headers["Odiadev-Event-Id"] == delivery.event_id == event["id"]
    assert headers["Odiadev-Event-Type"] == "job.failed" == event["type"]
    assert headers["Content-Type"] == "application/json"
    assert event["data"]["job"]["id"] == str(job.id)
    assert event["data"]["job"]["status"] == "failed"
    assert event["data"]["job"]["error"] == {"code": "engine_error", "message": "The engine broke."}
    # anything else is refused: another body, another secret, an old timestamp (a replay)
    assert not verify_signature(body.replace(b"failed", b"succeeded"), headers["Odiadev-Signature"], issued.secret)
    assert not verify_signature(body, headers["Odiadev-Signature"], "whsec_not-the-secret")
    stale = signature_header(secrets=[issued.secret], timestamp=int(time.time()) - 301, body=body)
    assert not verify_signature(body, stale, issued.secret)
    assert verify_signature(body, stale, issued.secret, tolerance=600)
    assert not verify_signature(body, "v1=deadbeef", issued.secret)


def test_after_a_rotation_both_secrets_verify_during_the_grace_period_then_only_the_new_one(
    user, receiver, local_targets, verify_signature
):
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")
    issued = register(user, receiver.url_for("/hook"))
    rotated = webhook_endpoint_rotate_secret(endpoint=issued.endpoint)
    assert rotated.secret != issued.secret
    fail_a_job(user)
    assert webhook_delivery_attempt(delivery_id=only_delivery(issued.endpoint).id) == "delivered"

    local_targets.WEBHOOK_SECRET_ROTATION_GRACE = 0
    again = webhook_endpoint_rotate_secret(endpoint=rotated.endpoint)
    fail_a_job(user)
    second = rotated.endpoint.deliveries.order_by("-created_at").first()
    assert webhook_delivery_attempt(delivery_id=second.id) == "delivered"

    (headers1, body1, _), (headers2, body2, _) = received(receiver)
    assert verify_signature(body1, headers1["Odiadev-Signature"], rotated.secret)
    assert verify_signature(body1, headers1["Odiadev-Signature"], issued.secret)  # the old one, within its grace
    assert verify_signature(body2, headers2["Odiadev-Signature"], again.secret)
    assert not verify_signature(body2, headers2["Odiadev-Signature"], rotated.secret)  # no grace: gone at once
