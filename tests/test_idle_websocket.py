"""A websocket that receives nothing for a minute stays open and then gets its event (the channel layer's blocking
read and redis-py's socket timeout used to race at 5 s, closing every idle socket with 1011)."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed

from accounts.services import api_key_create
from billing.services import plan_assign
from tests.e2e.helpers import events_until_final, open_socket, submit
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

IDLE_SECONDS = 60


def test_a_socket_idle_for_a_minute_stays_open_and_receives_its_event(stack):
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    secret = api_key_create(user=user, name="idle").secret
    with open_socket(stack, api_key=secret) as ws:
        # given a socket that hears nothing for a minute
        started = time.monotonic()
        try:
            message = ws.recv(timeout=IDLE_SECONDS)
        except TimeoutError:
            pass  # nothing came, and the socket is still open
        except ConnectionClosed as closed:
            pytest.fail(f"the idle socket was closed after {time.monotonic() - started:.1f} s: {closed}")
        else:
            pytest.fail(f"an idle socket received {message!r}")

        # when a job is submitted, then the same socket follows it to the end
        response = submit(stack, secret, text="Still listening after a quiet minute.", voice_id="joe")
        assert response.status_code == 202, response.text
        events = events_until_final(ws, response.json()["id"])
    assert events[-1]["status"] == "succeeded"
