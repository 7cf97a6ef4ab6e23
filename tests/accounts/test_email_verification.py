"""A self-service sign-up verifies its email (a signed, expiring link in the outbox) before its API keys work or
its free characters are granted; the link grants once however often it is followed; operators' accounts are
verified as they are made."""

import re
import time

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import api_key_create
from billing.models import BillingAccount, EntryKind, LedgerEntry
from billing.plans import DEFAULT_PLAN_SLUG, PLAN_CATALOG
from billing.selectors import usage_summary_for
from tests.factories import PASSWORD, UserFactory

FREE_CHARACTERS = next(plan["monthly_characters"] for plan in PLAN_CATALOG if plan["slug"] == DEFAULT_PLAN_SLUG)


def _sign_up(email: str, ip: str = "198.51.100.10") -> Client:
    browser = Client(REMOTE_ADDR=ip)
    response = browser.post("/signup/", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    return browser


def _link_in(message) -> str:
    match = re.search(r"http://testserver(/verify-email/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def _api(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _granted(user) -> int:
    return usage_summary_for(user=user)["characters"]["granted"]


def test_sign_up_sends_a_link_and_nothing_works_until_it_is_followed(db):
    browser = _sign_up("new@example.com")
    user = User.objects.get(email="new@example.com")
    secret = api_key_create(user=user, name="early").secret

    # the email went out, naming the address and carrying a link
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]
    link = _link_in(mail.outbox[0])
    # the dashboard says what to do, with a resend button
    page = browser.get("/").content.decode()
    assert 'data-testid="verify-email-banner"' in page
    assert "new@example.com" in page
    # the key is refused with a clear, stable code; no characters were granted
    refused = _api(secret).get("/v1/voices")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "email_unverified"
    assert "verify" in refused.json()["error"]["message"].lower()
    assert _granted(user) == 0
    assert BillingAccount.objects.get(user=user).balance == 0

    # when the owner follows the link (in any browser, logged in or not)
    done = Client().get(link)

    # then the account is verified, the free characters are granted, the key works and the banner is gone
    assert done.status_code == 200
    assert 'data-testid="verify-email-done"' in done.content.decode()
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert _granted(user) == FREE_CHARACTERS
    assert BillingAccount.objects.get(user=user).balance == FREE_CHARACTERS
    assert _api(secret).get("/v1/voices").status_code == 200
    assert 'data-testid="verify-email-banner"' not in browser.get("/").content.decode()


def test_the_dashboards_own_api_calls_say_verify_first_until_the_link_is_followed(db):
    browser = _sign_up("dash@example.com")
    body = {"text": "Hello before verifying.", "voice_id": "joe", "format": "mp3"}

    refused = browser.post("/v1/tts", body, content_type="application/json")

    # not "quota exceeded" (nothing was granted yet): the reason, and what to do
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "email_unverified"
    assert "follow the link" in refused.json()["error"]["message"]
    Client().get(_link_in(mail.outbox[0]))
    assert browser.get("/v1/voices").status_code == 200


def test_following_the_link_twice_grants_once(db):
    _sign_up("twice@example.com")
    link = _link_in(mail.outbox[0])
    user = User.objects.get(email="twice@example.com")

    first = Client().get(link)
    second = Client().get(link)

    assert first.status_code == second.status_code == 200
    assert 'data-testid="verify-email-already"' in second.content.decode()
    grants = LedgerEntry.objects.filter(account__user=user, kind=EntryKind.GRANT)
    assert [entry.amount for entry in grants] == [FREE_CHARACTERS]
    assert BillingAccount.objects.get(user=user).balance == FREE_CHARACTERS


def test_a_new_month_grants_nothing_to_an_unverified_account_and_verifying_grants_it(db):
    _sign_up("slow@example.com")
    link = _link_in(mail.outbox[0])
    user = User.objects.get(email="slow@example.com")
    usage_summary_for(user=user)
    BillingAccount.objects.filter(user=user).update(period="2020-01")  # signed up in an earlier month

    assert _granted(user) == 0  # the roll-over to this month grants nothing
    assert not LedgerEntry.objects.filter(account__user=user, kind=EntryKind.GRANT).exists()

    Client().get(link)

    assert _granted(user) == FREE_CHARACTERS
    assert BillingAccount.objects.get(user=user).balance == FREE_CHARACTERS


def test_an_expired_link_verifies_nothing(db, settings):
    _sign_up("late@example.com")
    link = _link_in(mail.outbox[0])
    settings.EMAIL_VERIFICATION_MAX_AGE = 1
    time.sleep(2.1)

    response = Client().get(link)

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    user = User.objects.get(email="late@example.com")
    assert user.email_verified_at is None
    assert _granted(user) == 0


def test_a_tampered_link_verifies_nothing(db):
    _sign_up("tamper@example.com")
    link = _link_in(mail.outbox[0])
    token = link.split("/")[2]
    forged = f"/verify-email/{token[:-3]}{'abc' if not token.endswith('abc') else 'xyz'}/"

    response = Client().get(forged)

    assert response.status_code == 400
    assert 'data-testid="verify-email-error"' in response.content.decode()
    assert User.objects.get(email="tamper@example.com").email_verified_at is None


def test_resend_sends_a_new_working_link_and_is_throttled(db, settings):
    settings.EMAIL_VERIFICATION_EMAILS_PER_HOUR = 3  # the sign-up's email is the first
    browser = _sign_up("resend@example.com")

    answers = [browser.post("/verify-email/resend/", follow=True).content.decode() for _ in range(3)]

    assert len(mail.outbox) == 3
    assert "We sent a verification link" in answers[0]
    assert "ask again in" in answers[2]
    # the newest link works too
    assert Client().get(_link_in(mail.outbox[-1])).status_code == 200
    assert User.objects.get(email="resend@example.com").email_verified_at is not None


def test_accounts_made_by_operators_and_factories_are_verified(db):
    from django.core.management import call_command

    call_command("create_api_key", email="ops-made@example.com", name="cli")
    made_by_command = User.objects.get(email="ops-made@example.com")
    made_by_factory = UserFactory()
    superuser = User.objects.create_superuser(email="root@example.com", password=PASSWORD)

    assert made_by_command.email_verified_at is not None
    assert made_by_factory.email_verified_at is not None
    assert superuser.email_verified_at is not None
    assert _api(api_key_create(user=made_by_factory).secret).get("/v1/voices").status_code == 200
    assert mail.outbox == []


def test_operators_can_mark_an_account_verified_in_the_admin(db, admin_client):
    _sign_up("stuck@example.com")
    user = User.objects.get(email="stuck@example.com")

    response = admin_client.post(
        "/admin/accounts/user/", {"action": "mark_email_verified", "_selected_action": [user.pk]}, follow=True
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert _granted(user) == FREE_CHARACTERS


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_unverified_accounts_key_is_refused_on_the_websocket(stack):
    import json

    from django.utils import timezone
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    user = UserFactory(email_verified_at=None)
    secret = api_key_create(user=user, name="ws").secret

    with connect(f"{stack.ws_url}/ws/jobs/?api_key={secret}", open_timeout=10) as ws:
        message = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert message["error"]["code"] == "email_unverified"
    assert ws.close_code == 4403

    # verified, the same key opens the socket
    User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    with connect(f"{stack.ws_url}/ws/jobs/?api_key={secret}", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
