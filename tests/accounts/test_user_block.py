"""Blocking an account: keys stop working, sessions end, open websockets close, and who/why is recorded."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient
from websockets.exceptions import ConnectionClosed

from accounts.blocking import user_block, user_unblock
from accounts.models import UserBlock
from accounts.services import api_key_create
from tests.e2e.helpers import open_socket
from tests.factories import PASSWORD, UserFactory


def _bearer(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_blocking_revokes_every_key_ends_sessions_and_is_audited(db):
    user, operator = UserFactory(), UserFactory(is_staff=True)
    secrets = [api_key_create(user=user, name=name).secret for name in ("one", "two")]
    browser = Client()
    assert browser.login(email=user.email, password=PASSWORD)
    assert _bearer(secrets[0]).get("/v1/usage").status_code == 200
    assert browser.get("/v1/usage").status_code == 200

    block = user_block(user=user, reason="card testing", by=operator)

    for secret in secrets:
        response = _bearer(secret).get("/v1/usage")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "authentication_failed"
    assert browser.get("/v1/usage").status_code in (401, 403)
    user.refresh_from_db()
    assert user.is_active is False
    assert user.api_keys.filter(revoked_at__isnull=True).count() == 0
    assert (block.blocked_by, block.reason, block.keys_revoked, block.sessions_deleted) == (
        operator,
        "card testing",
        2,
        1,
    )
    assert not Client().login(email=user.email, password=PASSWORD)


def test_unblocking_lets_the_user_log_in_again_but_keys_stay_revoked(db):
    user, operator = UserFactory(), UserFactory(is_staff=True)
    secret = api_key_create(user=user, name="old").secret
    user_block(user=user, reason="mistake", by=operator)

    assert user_unblock(user=user, reason="appeal accepted", by=operator) == 1

    assert Client().login(email=user.email, password=PASSWORD)
    assert _bearer(secret).get("/v1/usage").status_code == 401
    assert _bearer(api_key_create(user=user, name="new").secret).get("/v1/usage").status_code == 200
    block = UserBlock.objects.get(user=user)
    assert (block.lifted_by, block.lift_reason) == (operator, "appeal accepted")


def test_a_reason_is_required_and_operators_cannot_block_themselves(db):
    operator = UserFactory(is_staff=True)
    with pytest.raises(ValidationError):
        user_block(user=UserFactory(), reason="  ", by=operator)
    with pytest.raises(ValidationError):
        user_block(user=operator, reason="oops", by=operator)


def test_admin_block_action_asks_for_a_reason_then_blocks(db, admin_client, admin_user):
    user = UserFactory()
    secret = api_key_create(user=user).secret
    form = {"action": "block", "_selected_action": [user.pk]}

    asked = admin_client.post("/admin/accounts/user/", form)
    assert asked.status_code == 200
    assert b"Block these accounts?" in asked.content
    user.refresh_from_db()
    assert user.is_active  # nothing happens before a reason is given

    done = admin_client.post("/admin/accounts/user/", {**form, "apply": "1", "reason": "spam farm"}, follow=True)

    assert done.status_code == 200
    user.refresh_from_db()
    assert user.is_active is False
    assert UserBlock.objects.get(user=user).blocked_by == admin_user
    assert _bearer(secret).get("/v1/usage").status_code == 401


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_blocking_closes_the_users_open_websocket(stack):
    user, bystander = UserFactory(), UserFactory()
    secret = api_key_create(user=user).secret
    other = api_key_create(user=bystander).secret
    with open_socket(stack, api_key=secret) as ws, open_socket(stack, api_key=other) as other_ws:
        user_block(user=user, reason="abuse", by=None)

        message = json.loads(ws.recv(timeout=10))
        assert message["type"] == "error"
        assert message["error"]["code"] == "account_blocked"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 4403
        # another user's socket stays open
        other_ws.send(json.dumps({"type": "ping"}))
        assert json.loads(other_ws.recv(timeout=5))["type"] == "pong"
