"""IP blocklist: single addresses and ranges, IPv4 and IPv6, expiry, proxies, HTTP and websockets."""

import json
import time
from datetime import timedelta

import httpx
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ValidationError
from django.utils import timezone
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from accounts.services import api_key_create
from controls.blocklist import ip_block_create, ip_block_find, ip_block_remove, ip_block_update
from controls.models import IpBlock
from tests.e2e.helpers import open_socket
from tests.factories import UserFactory


def _get(client, path, ip, **headers):
    return client.get(path, REMOTE_ADDR=ip, **headers)


def test_a_blocked_address_gets_403_ip_blocked_everywhere_but_the_liveness_probe(client, db):
    ip_block_create(network="203.0.113.7", reason="scraping", by=None)

    api = _get(client, "/v1/voices", "203.0.113.7")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "ip_blocked"
    page = _get(client, "/login/", "203.0.113.7")
    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")
    assert _get(client, "/admin/login/", "203.0.113.7").status_code == 403
    assert _get(client, "/health/live", "203.0.113.7").status_code == 200
    # the neighbour is not blocked (401: no credentials)
    assert _get(client, "/v1/voices", "203.0.113.8").status_code == 401


def test_ranges_block_every_address_inside_them_ipv4_and_ipv6(client, db):
    ip_block_create(network="198.51.100.0/24", reason="botnet")
    ip_block_create(network="2001:db8:abcd::/48", reason="botnet v6")

    assert _get(client, "/v1/voices", "198.51.100.1").status_code == 403
    assert _get(client, "/v1/voices", "198.51.100.254").status_code == 403
    assert _get(client, "/v1/voices", "198.51.101.1").status_code == 401
    assert _get(client, "/v1/voices", "2001:db8:abcd:12::5").status_code == 403
    assert _get(client, "/v1/voices", "2001:db8:abce::1").status_code == 401
    # an IPv4 client seen through a dual-stack socket
    assert _get(client, "/v1/voices", "::ffff:198.51.100.9").status_code == 403


def test_networks_are_validated_and_stored_canonically(db):
    assert ip_block_create(network=" 2001:DB8::1 ", reason="x").network == "2001:db8::1/128"
    with pytest.raises(ValidationError, match=r"Did you mean 10\.0\.0\.0/24"):
        ip_block_create(network="10.0.0.5/24", reason="x")
    with pytest.raises(ValidationError, match="too wide"):
        ip_block_create(network="0.0.0.0/0", reason="x")
    with pytest.raises(ValidationError, match="not an IP address"):
        ip_block_create(network="example.com", reason="x")
    with pytest.raises(ValidationError, match="why"):
        ip_block_create(network="192.0.2.1", reason=" ")


def test_an_expired_block_stops_blocking_by_itself(client, db):
    ip_block_create(network="192.0.2.10", reason="cool off", expires_at=timezone.now() + timedelta(seconds=1.5))
    ip_block_create(network="192.0.2.11", reason="already over", expires_at=timezone.now() - timedelta(seconds=1))
    assert _get(client, "/v1/voices", "192.0.2.10").status_code == 403
    assert _get(client, "/v1/voices", "192.0.2.11").status_code == 401

    time.sleep(1.6)  # no cache refresh needed: expiry is checked at each lookup

    assert _get(client, "/v1/voices", "192.0.2.10").status_code == 401


def test_shortening_or_removing_a_block_lifts_it(client, db):
    block = ip_block_create(network="192.0.2.20", reason="x")
    assert _get(client, "/v1/voices", "192.0.2.20").status_code == 403

    ip_block_update(block=block, reason="served its time", expires_at=timezone.now() - timedelta(minutes=1))
    assert _get(client, "/v1/voices", "192.0.2.20").status_code == 401
    ip_block_update(block=block, reason="again", expires_at=None)
    assert _get(client, "/v1/voices", "192.0.2.20").status_code == 403
    ip_block_remove(block=block)
    assert _get(client, "/v1/voices", "192.0.2.20").status_code == 401


def test_a_block_written_by_another_process_applies_within_two_seconds_without_a_query_per_request(
    client, db, django_assert_num_queries
):
    assert ip_block_find("192.0.2.30") is None  # this process has a fresh (empty) copy now
    IpBlock.objects.create(network="192.0.2.30/32", reason="added elsewhere")  # no cache clear here
    with django_assert_num_queries(0):
        for _ in range(50):
            ip_block_find("192.0.2.31")

    deadline = time.monotonic() + 2.5
    while ip_block_find("192.0.2.30") is None:
        assert time.monotonic() < deadline, "the block did not apply within 2 s"
        time.sleep(0.1)


def test_x_forwarded_for_counts_only_behind_trusted_proxies(client, db, settings):
    ip_block_create(network="203.0.113.50", reason="x")
    forwarded = {"HTTP_X_FORWARDED_FOR": "203.0.113.50"}

    settings.TRUSTED_PROXY_COUNT = 0  # the default: anyone can write the header, so it is ignored
    assert _get(client, "/v1/voices", "10.0.0.1", **forwarded).status_code == 401

    settings.TRUSTED_PROXY_COUNT = 1
    assert _get(client, "/v1/voices", "10.0.0.1", **forwarded).status_code == 403
    # a client that writes its own header cannot hide behind it: the proxy appends the real address
    spoofed = {"HTTP_X_FORWARDED_FOR": "192.0.2.99, 203.0.113.50"}
    assert _get(client, "/v1/voices", "10.0.0.1", **spoofed).status_code == 403
    innocent = {"HTTP_X_FORWARDED_FOR": "203.0.113.50, 192.0.2.99"}
    assert _get(client, "/v1/voices", "10.0.0.1", **innocent).status_code == 401

    settings.TRUSTED_PROXY_COUNT = 2
    two_proxies = {"HTTP_X_FORWARDED_FOR": "203.0.113.50, 10.0.0.2"}
    assert _get(client, "/v1/voices", "10.0.0.1", **two_proxies).status_code == 403


def _ws_connect(path: str, *, client_ip: str, headers=None):
    """Connect to the real ASGI application in this process as a client at `client_ip`."""
    from odiadev.asgi import application

    async def run():
        communicator = WebsocketCommunicator(application, path, headers=headers or [])
        communicator.scope["client"] = (client_ip, 50000)
        connected, detail = await communicator.connect(timeout=5)
        if connected:
            hello = await communicator.receive_json_from(timeout=5)
            await communicator.disconnect()
            return True, hello
        return False, detail

    return async_to_sync(run)()


def test_websocket_from_a_blocked_range_is_refused_in_the_handshake(db, settings):
    secret = api_key_create(user=UserFactory(), name="ws").secret
    ip_block_create(network="198.51.100.0/24", reason="x")
    path = f"/ws/jobs/?api_key={secret}"

    assert _ws_connect(path, client_ip="198.51.100.7") == (False, 1008)
    connected, hello = _ws_connect(path, client_ip="198.51.101.7")
    assert connected
    assert hello["type"] == "hello"

    settings.TRUSTED_PROXY_COUNT = 1
    forwarded = [(b"x-forwarded-for", b"198.51.100.7")]
    assert _ws_connect(path, client_ip="10.0.0.1", headers=forwarded) == (False, 1008)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_live_server_refuses_websockets_and_requests_from_a_blocked_address(stack):
    """The stack's Daphne sees this test as 127.0.0.1; the block is lifted (and waited out) whatever happens."""
    secret = api_key_create(user=UserFactory(), name="ws").secret
    block = ip_block_create(network="127.0.0.1", reason="test: live blocklist")
    try:
        deadline = time.monotonic() + 5
        while httpx.get(f"{stack.base_url}/v1/voices").status_code != 403:
            assert time.monotonic() < deadline, "the stack did not apply the block"
            time.sleep(0.1)
        assert httpx.get(f"{stack.base_url}/v1/voices").json()["error"]["code"] == "ip_blocked"
        assert httpx.get(f"{stack.base_url}/health/live").status_code == 200
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{stack.ws_url}/ws/jobs/?api_key={secret}", open_timeout=10)
        assert refused.value.response.status_code == 403
    finally:
        ip_block_remove(block=block)
        deadline = time.monotonic() + 5
        while httpx.get(f"{stack.base_url}/v1/voices").status_code == 403 and time.monotonic() < deadline:
            time.sleep(0.1)
    with open_socket(stack, api_key=secret) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"


def test_operators_add_blocks_in_the_admin_and_they_apply_at_once(client, db, admin_client, admin_user):
    response = admin_client.post(
        "/admin/controls/ipblock/add/", {"network": "203.0.113.0/28", "reason": "card testing"}
    )

    assert response.status_code == 302
    block = IpBlock.objects.get()
    assert (block.network, block.created_by, block.expires_at) == ("203.0.113.0/28", admin_user, None)
    assert _get(client, "/v1/voices", "203.0.113.9").status_code == 403
    refused = admin_client.post("/admin/controls/ipblock/add/", {"network": "203.0.113.1/28", "reason": "x"})
    assert "Did you mean 203.0.113.0/28" in refused.content.decode()

    admin_client.post(f"/admin/controls/ipblock/{block.pk}/delete/", {"post": "yes"})
    assert _get(client, "/v1/voices", "203.0.113.9").status_code == 401
