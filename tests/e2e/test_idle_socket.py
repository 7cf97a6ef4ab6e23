"""An event socket stays open while idle: it still gets its events after longer than the channel layer's blocking
wait (5 s) with nothing to say. (redis-py 8's default 5 s read timeout once killed idle sockets with close 1011.)"""

import time

import pytest

from accounts.services import api_key_create
from billing.services import plan_assign
from tests.factories import UserFactory

from .helpers import events_until_final, open_socket, submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_idle_socket_still_gets_events(stack):
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    secret = api_key_create(user=user, name="idle").secret

    with open_socket(stack, api_key=secret) as ws:
        time.sleep(12)  # two of channels-redis's 5 s waits with nothing to receive
        job = submit(stack, secret, text="Still here.", voice_id="joe").json()
        events = events_until_final(ws, job["id"])

    assert events[-1]["status"] == "succeeded"
