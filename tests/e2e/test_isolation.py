"""Two users: B never sees A's jobs, audio or events — by id, in lists, or on the websocket."""

import json

import httpx
import pytest
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from accounts.services import api_key_create, api_key_revoke
from tests.factories import PASSWORD, UserFactory

from .helpers import bearer, drain, events_until_final, open_socket, submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice():
    user = UserFactory()
    return user, api_key_create(user=user, name="alice").secret


@pytest.fixture
def bob():
    user = UserFactory()
    return user, api_key_create(user=user, name="bob").secret


def test_other_users_job_audio_and_events_are_invisible(stack, alice, bob):
    _, alice_key = alice
    _, bob_key = bob
    with open_socket(stack, api_key=alice_key) as alice_ws, open_socket(stack, api_key=bob_key) as bob_ws:
        job = submit(stack, alice_key, text="Only Alice may hear this.", format="wav").json()
        assert [e["status"] for e in events_until_final(alice_ws, job["id"])][-1] == "succeeded"
        # Bob's socket got nothing about it
        assert [m for m in drain(bob_ws, 1.0) if m.get("type") == "job.updated"] == []

    base = stack.base_url
    assert httpx.get(f"{base}/v1/tts/{job['id']}", headers=bearer(bob_key)).status_code == 404
    assert httpx.get(f"{base}/v1/tts/{job['id']}/audio", headers=bearer(bob_key)).status_code == 404
    assert httpx.get(f"{base}/v1/tts", headers=bearer(bob_key)).json()["count"] == 0
    assert httpx.get(f"{base}/v1/tts", headers=bearer(alice_key)).json()["count"] == 1
    assert httpx.get(f"{base}/v1/tts/{job['id']}", headers=bearer(alice_key)).status_code == 200
    # without credentials or with a forged token, the audio stays closed
    assert httpx.get(f"{base}/v1/tts/{job['id']}/audio").status_code == 401
    forged = f"{base}/v1/tts/{job['id']}/audio?token={job['id']}:1xWSmi:forged"
    assert httpx.get(forged).status_code == 400


def test_websocket_without_credentials_or_with_bad_key_is_closed(stack, alice):
    _, alice_key = alice
    tampered = alice_key[:-4] + ("AAAA" if not alice_key.endswith("AAAA") else "BBBB")
    urls = [f"{stack.ws_url}/ws/jobs/", f"{stack.ws_url}/ws/jobs/?api_key=odk_bad_key"]
    for url in [*urls, f"{stack.ws_url}/ws/jobs/?api_key={tampered}"]:
        with connect(url, open_timeout=10) as ws:
            messages = drain(ws, 2.0)
            assert [m["error"]["code"] for m in messages] == ["authentication_failed"]
            assert ws.close_code == 4401


def test_websocket_with_revoked_key_is_closed(stack, alice):
    user, alice_key = alice
    api_key_revoke(user=user, key_id=user.api_keys.get().id)

    with connect(f"{stack.ws_url}/ws/jobs/?api_key={alice_key}", open_timeout=10) as ws:
        drain(ws, 2.0)
        assert ws.close_code == 4401


def test_websocket_with_authorization_header(stack, alice):
    _, alice_key = alice
    with open_socket(stack, headers={"Authorization": f"Bearer {alice_key}"}) as ws:
        job = submit(stack, alice_key, text="Header auth works.").json()
        assert events_until_final(ws, job["id"])[-1]["status"] == "succeeded"


def test_session_cookie_websocket_needs_our_origin(stack, alice):
    user, _ = alice
    browser = Client()
    assert browser.login(email=user.email, password=PASSWORD)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"

    with open_socket(stack, headers={"Cookie": cookie, "Origin": stack.base_url}) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}

    # the same cookie sent by another site's page is not honoured
    with connect(
        f"{stack.ws_url}/ws/jobs/", additional_headers={"Cookie": cookie, "Origin": "https://evil.example"}
    ) as ws:
        drain(ws, 2.0)
        assert ws.close_code == 4401


def test_revoked_key_is_refused_over_http(stack, alice):
    user, alice_key = alice
    assert httpx.get(f"{stack.base_url}/v1/voices", headers=bearer(alice_key)).status_code == 200

    api_key_revoke(user=user, key_id=user.api_keys.get().id)

    response = httpx.get(f"{stack.base_url}/v1/voices", headers=bearer(alice_key))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_unknown_websocket_path_is_refused(stack, alice):
    _, alice_key = alice
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{stack.ws_url}/ws/nowhere/?api_key={alice_key}", open_timeout=5)
    assert refused.value.response.status_code == 403
