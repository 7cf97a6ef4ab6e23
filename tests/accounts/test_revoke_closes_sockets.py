"""Revoking a key closes every websocket opened with it within 2 s (close 4401, after one `error` message and
nothing else), through the live stack; a socket on another key of the same user stays open and keeps its events."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from websockets.exceptions import ConnectionClosed

from accounts.services import api_key_create
from billing.services import plan_assign
from synthesis.consumers import CLOSE_UNAUTHENTICATED
from tests.e2e.helpers import events_until_final, open_socket, submit
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _messages_until_closed(ws, timeout: float) -> tuple[list[dict], float]:
    """Every message until the server closes the socket, and the seconds it took."""
    started = time.monotonic()
    messages = []
    with pytest.raises(ConnectionClosed):  # noqa: PT012 - reading until the close is the point
        while time.monotonic() - started < timeout:
            messages.append(json.loads(ws.recv(timeout=timeout)))
    return messages, time.monotonic() - started


def test_revoking_a_key_on_the_dashboard_closes_its_sockets_and_no_other(stack):
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    doomed = api_key_create(user=user, name="doomed")
    kept = api_key_create(user=user, name="kept")
    dashboard = Client()
    dashboard.force_login(user)

    with (
        open_socket(stack, api_key=doomed.secret) as ws,
        open_socket(stack, api_key=doomed.secret) as second_ws,
        open_socket(stack, api_key=kept.secret) as kept_ws,
    ):
        # when the customer revokes the key on the dashboard, and a job of theirs starts at once (its events go to
        # every socket of the user that is still open)
        revoked = dashboard.post(f"/keys/{doomed.api_key.pk}/revoke")
        job = submit(stack, kept.secret, text="After the revocation.", voice_id="joe")

        assert revoked.status_code == 302
        assert job.status_code == 202, job.text
        # then both sockets of the revoked key say why and close within 2 s, and receive nothing else
        for socket in (ws, second_ws):
            messages, seconds = _messages_until_closed(socket, timeout=5)
            assert [m["type"] for m in messages] == ["error"], (messages, socket.close_code, socket.close_reason)
            assert messages[0]["error"]["code"] == "authentication_failed"
            assert "revoked" in messages[0]["error"]["message"]
            assert socket.close_code == CLOSE_UNAUTHENTICATED == 4401
            assert seconds < 2, f"closed after {seconds:.2f} s"

        # and the socket of the other key stays open and follows the job to the end
        events = events_until_final(kept_ws, job.json()["id"])
        assert events[-1]["status"] == "succeeded"
        kept_ws.send(json.dumps({"type": "ping"}))
        assert json.loads(kept_ws.recv(timeout=5))["type"] == "pong"


def test_a_revoked_key_cannot_open_a_socket(stack):
    from websockets.sync.client import connect

    user = UserFactory()
    issued = api_key_create(user=user, name="gone")
    dashboard = Client()
    dashboard.force_login(user)
    assert dashboard.post(f"/keys/{issued.api_key.pk}/revoke").status_code == 302

    with connect(f"{stack.ws_url}/ws/jobs/?api_key={issued.secret}", open_timeout=10) as ws:
        message = json.loads(ws.recv(timeout=10))
        assert message["error"]["code"] == "authentication_failed"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == CLOSE_UNAUTHENTICATED


def test_a_session_socket_outlives_a_key_revocation_but_not_a_block(stack):
    from accounts.blocking import user_block

    user = UserFactory()
    issued = api_key_create(user=user, name="one")
    browser = Client()
    browser.force_login(user)
    session = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}", "Origin": stack.base_url}

    with open_socket(stack, headers=session) as ws:
        # a key revoked: the browser's socket (opened with the session) stays open
        assert browser.post(f"/keys/{issued.api_key.pk}/revoke").status_code == 302
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}

        # the account blocked: it closes, saying why
        user_block(user=user, reason="abuse", by=None)
        messages, seconds = _messages_until_closed(ws, timeout=5)

    assert [m["error"]["code"] for m in messages] == ["account_blocked"]
    assert ws.close_code == 4403
    assert seconds < 2
