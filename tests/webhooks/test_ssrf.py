"""Server-side request forgery: endpoints may only be public HTTPS addresses — checked at registration, and again
after DNS resolution before every attempt. These run with WEBHOOKS_ALLOW_PRIVATE_TARGETS off (the default)."""

import pytest

from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_delivery_attempt
from webhooks.targets import address_forbidden_reason

from .helpers import fail_a_job, only_delivery, register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("forbid_private_targets")]

PUBLIC = "https://93.184.215.14/hooks/odiadev"  # a public address literal: no DNS needed, never connected to here

FORBIDDEN_URLS = [
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://172.16.5.4/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[fd00:ec2::254]/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://localhost/hook",  # a name that resolves to loopback
    "https://2130706433/hook",  # 127.0.0.1 written as a number
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://100.64.0.1/hook",
    "http://93.184.215.14/hooks/odiadev",  # a public address, but not https
    "ftp://93.184.215.14/hooks",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_registration_refuses_non_public_or_non_https_targets(api, url):
    response = api.post("/v1/webhooks", {"url": url, "events": ["job.succeeded"]}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "webhook_url_forbidden"
    assert not WebhookEndpoint.objects.exists()


def test_a_public_https_address_is_accepted_and_changing_it_to_a_private_one_is_refused(api):
    created = api.post("/v1/webhooks", {"url": PUBLIC, "events": ["job.succeeded"]}, format="json")
    assert created.status_code == 201, created.content
    endpoint_id = created.json()["webhook"]["id"]

    response = api.patch(f"/v1/webhooks/{endpoint_id}", {"url": "https://169.254.169.254/"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_url_forbidden"
    assert WebhookEndpoint.objects.get(pk=endpoint_id).url == PUBLIC


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost:{port}/hook",
        "https://127.0.0.1:{port}/hook",
        "https://[::1]:{port}/hook",
        "https://10.0.0.7/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/iam/",
        "http://127.0.0.1:{port}/hook",
    ],
)
def test_a_target_that_turned_private_after_registration_is_refused_at_delivery_and_logged(user, receiver, url):
    # given an endpoint registered while its host was public, whose address has since changed (DNS or the row)
    receiver.expect_request("/hook").respond_with_data("must not be reached")
    issued = register(user, PUBLIC)
    WebhookEndpoint.objects.filter(pk=issued.endpoint.pk).update(url=url.format(port=receiver.port))
    fail_a_job(user)
    delivery = only_delivery(issued.endpoint)

    # when the delivery is attempted, nothing is sent; the refusal is logged and retried like any failure
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "pending"

    assert receiver.log == []
    attempt = delivery.attempt_log.get()
    assert (attempt.status_code, attempt.ip_address, attempt.error_code) == (None, None, "webhook_url_forbidden")
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("webhook_url_forbidden: ")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.2", "loopback"),
        ("10.255.255.255", "private"),
        ("172.31.0.1", "private"),
        ("192.168.255.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fd00:ec2::254", "private"),
        ("fc00::1", "private"),
        ("fe80::1", "link-local"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "private"),  # reserved (Python counts 240/4 as private as well)
        ("100.100.100.200", "shared"),  # carrier-grade NAT (Alibaba Cloud's metadata address)
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 around 169.254.169.254
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 around 127.0.0.1
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_classification(address, reason):
    assert address_forbidden_reason(address) == reason


def test_with_private_targets_allowed_the_connection_goes_to_the_checked_address_under_the_original_host(
    user, receiver, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")
    issued = register(user, f"http://localhost:{receiver.port}/hook")
    fail_a_job(user)
    delivery = only_delivery(issued.endpoint)

    assert webhook_delivery_attempt(delivery_id=delivery.id) == "delivered"

    [(request, _)] = receiver.log
    assert request.headers["Host"] == f"localhost:{receiver.port}"
    assert delivery.attempt_log.get().ip_address == "127.0.0.1"


def test_deploy_check_warns_when_private_targets_are_allowed(settings):
    from webhooks.apps import private_targets_check

    assert private_targets_check(None) == []
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    assert [warning.id for warning in private_targets_check(None)] == ["webhooks.W001"]
