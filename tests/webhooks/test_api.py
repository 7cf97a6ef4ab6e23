"""The /v1/webhooks API and the dashboard page: secrets shown once, edits, validation, and two accounts that never
see each other's endpoints or deliveries."""

import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .helpers import fail_a_job, register

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/hooks/odiadev"


@pytest.fixture
def other_api(other_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=other_user, name='other').secret}")
    return client


def test_create_shows_the_secret_once_then_list_get_patch_rotate_delete(api):
    body = {"url": URL, "events": ["voice.rejected", "job.succeeded"], "description": "prod"}
    created = api.post("/v1/webhooks", body, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    secret, webhook = body["secret"], body["webhook"]
    assert secret.startswith("whsec_")
    assert webhook["events"] == ["job.succeeded", "voice.rejected"]
    assert webhook["secret_hint"] == secret[:10] + "…"

    fetched = api.get(f"/v1/webhooks/{webhook['id']}").json()
    listed = api.get("/v1/webhooks").json()["webhooks"]
    assert secret not in str(fetched)
    assert secret not in str(listed)
    assert [w["id"] for w in listed] == [webhook["id"]]

    patched = api.patch(f"/v1/webhooks/{webhook['id']}", {"events": ["job.failed"]}, format="json")
    assert patched.status_code == 200
    assert patched.json()["events"] == ["job.failed"]
    assert patched.json()["url"] == URL

    rotated = api.post(f"/v1/webhooks/{webhook['id']}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != secret
    assert WebhookEndpoint.objects.get(pk=webhook["id"]).secret == rotated.json()["secret"]

    assert api.delete(f"/v1/webhooks/{webhook['id']}").status_code == 204
    assert api.get(f"/v1/webhooks/{webhook['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": URL, "events": []}, "webhook_events_invalid"),
        ({"url": URL, "events": ["job.started"]}, "webhook_events_invalid"),
        ({"url": URL, "events": "job.failed"}, "webhook_events_invalid"),
        ({"url": "not a url", "events": ["job.failed"]}, "webhook_url_invalid"),
        ({"url": "https://user:pw@93.184.215.14/", "events": ["job.failed"]}, "webhook_url_invalid"),
        ({"events": ["job.failed"]}, "webhook_url_invalid"),
    ],
)
def test_invalid_registrations_are_refused_with_stable_codes(api, body, code):
    response = api.post("/v1/webhooks", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_one_account_never_sees_anothers_endpoints_or_deliveries(user, api, other_api):
    issued = register(user, URL)
    fail_a_job(user)
    delivery = WebhookDelivery.objects.get(endpoint=issued.endpoint)
    endpoint_id = issued.endpoint.id

    assert other_api.get("/v1/webhooks").json()["webhooks"] == []
    for method, path in [
        ("get", f"/v1/webhooks/{endpoint_id}"),
        ("patch", f"/v1/webhooks/{endpoint_id}"),
        ("delete", f"/v1/webhooks/{endpoint_id}"),
        ("post", f"/v1/webhooks/{endpoint_id}/test"),
        ("post", f"/v1/webhooks/{endpoint_id}/rotate-secret"),
        ("get", f"/v1/webhooks/{endpoint_id}/deliveries"),
        ("post", f"/v1/webhooks/deliveries/{delivery.id}/resend"),
    ]:
        response = getattr(other_api, method)(path, {"events": ["job.failed"]}, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"

    # nothing changed, and the owner still sees it all
    assert WebhookEndpoint.objects.get(pk=endpoint_id).secret == issued.secret
    assert WebhookDelivery.objects.filter(endpoint_id=endpoint_id).count() == 1
    assert api.get(f"/v1/webhooks/{endpoint_id}/deliveries").json()["count"] == 1


def test_an_accounts_events_reach_only_its_own_endpoints(user, other_user):
    mine = register(user, URL)
    theirs = register(other_user, URL)

    fail_a_job(user)

    assert WebhookDelivery.objects.filter(endpoint=mine.endpoint).count() == 1
    assert WebhookDelivery.objects.filter(endpoint=theirs.endpoint).count() == 0


def test_dashboard_page_registers_an_endpoint_and_shows_the_secret_once(client, user, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    client.force_login(user)
    assert 'href="/webhooks/"' in client.get("/").content.decode()

    refused = client.post("/webhooks/", {"url": "https://localhost/hook", "events": ["job.succeeded"]})
    assert refused.status_code == 200
    assert "webhook_url_forbidden" in refused.content.decode()

    response = client.post("/webhooks/", {"url": URL, "events": ["job.succeeded", "voice.verified"]}, follow=True)
    endpoint = WebhookEndpoint.objects.get(user=user)
    assert endpoint.events == ["job.succeeded", "voice.verified"]
    assert endpoint.secret in response.content.decode()
    page = client.get(f"/webhooks/{endpoint.id}/").content.decode()
    assert endpoint.secret not in page
    assert URL in client.get("/webhooks/").content.decode()


def test_dashboard_lists_deliveries_and_resends_one(client, user, other_user):
    issued = register(user, URL)
    fail_a_job(user)
    delivery = WebhookDelivery.objects.get(endpoint=issued.endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", next_attempt_at=None)
    client.force_login(user)

    page = client.get(f"/webhooks/{issued.endpoint.id}/").content.decode()
    assert delivery.event_id in page
    assert "failed" in page

    response = client.post(f"/webhooks/deliveries/{delivery.id}/resend")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "pending"

    # another account's dashboard finds neither the endpoint nor the delivery
    client.force_login(other_user)
    assert client.get(f"/webhooks/{issued.endpoint.id}/", follow=True).redirect_chain[-1][0] == "/webhooks/"
    client.post(f"/webhooks/deliveries/{delivery.id}/resend")
    client.post(f"/webhooks/{issued.endpoint.id}/delete")
    assert WebhookEndpoint.objects.filter(pk=issued.endpoint.pk).exists()
