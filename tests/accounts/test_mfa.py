"""TOTP second factor: with STAFF_REQUIRE_MFA a staff user is sent to enrol before /admin/ and the ops panel, and
once enrolled every log-in asks for the code. Codes are computed here as an authenticator app does (RFC 6238)."""

import time

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PASSWORD, UserFactory

from .totp import secret_from_page, totp_code, wrong_code


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def required(settings):
    settings.STAFF_REQUIRE_MFA = True
    return settings


def _password_step(email: str, next_url: str = "") -> tuple[Client, object]:
    browser = Client(REMOTE_ADDR="198.51.100.50")
    data = {"username": email, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return browser, browser.post("/login/", data)


def _enrol(browser: Client, next_url: str = "/admin/") -> str:
    page = browser.get(f"/account/two-factor/?next={next_url}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html  # the QR code, inline
    secret = secret_from_page(html)
    confirmed = browser.post("/account/two-factor/", {"code": totp_code(secret), "next": next_url})
    assert confirmed.status_code == 302, confirmed.content.decode()[:2000]
    assert confirmed["Location"] == next_url
    return secret


def test_staff_without_a_device_is_sent_to_enrol_before_the_staff_pages(staff, required):
    browser, response = _password_step(staff.email)
    assert response.status_code == 302  # no device yet: the password logs in

    for path in ("/admin/", "/ops/", "/admin/accounts/user/"):
        refused = browser.get(path)
        assert refused.status_code == 302
        assert refused["Location"].startswith("/account/two-factor/?next=")
    assert browser.get("/").status_code == 200  # the customer pages stay open
    assert 'data-testid="mfa-required"' in browser.get("/account/two-factor/").content.decode()

    # a wrong code is refused, the right one enrols and opens the staff pages in this session
    page = browser.get("/account/two-factor/").content.decode()
    secret = secret_from_page(page)
    wrong = browser.post("/account/two-factor/", {"code": wrong_code(secret)})
    assert 'data-testid="mfa-error"' in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    assert secret == secret_from_page(browser.get("/account/two-factor/").content.decode())  # same key on reload

    time.sleep(1.1)  # django-otp slows tries down for 1 s after a failure
    confirmed = browser.post("/account/two-factor/", {"code": totp_code(secret), "next": "/admin/"})
    assert confirmed.status_code == 302
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/ops/").status_code == 200
    assert TOTPDevice.objects.get(user=staff).confirmed


def test_with_a_device_the_log_in_asks_for_the_code(staff, required):
    browser, _ = _password_step(staff.email)
    secret = _enrol(browser)
    browser.post("/logout/")

    browser, response = _password_step(staff.email, next_url="/admin/")

    # the password alone does not log in
    assert response.status_code == 302
    assert response["Location"] == "/login/code/"
    assert "_auth_user_id" not in browser.session
    assert browser.get("/admin/", follow=True).redirect_chain[-1][0].startswith("/login/?next=/admin/")
    # the code of the enrolment step is spent; the next step's is what the app shows next
    spent = browser.post("/login/code/", {"code": totp_code(secret)})
    assert 'data-testid="code-error"' in spent.content.decode()
    assert "_auth_user_id" not in browser.session

    time.sleep(1.1)  # django-otp's slow-down after a failure
    done = browser.post("/login/code/", {"code": totp_code(secret, steps_ahead=1)})

    assert done.status_code == 302
    assert done["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/ops/").status_code == 200


def test_wrong_codes_count_as_failed_log_ins(staff, required, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own slow-down off: this test is about ours
    browser, _ = _password_step(staff.email)
    secret = _enrol(browser)
    browser.post("/logout/")

    browser, _ = _password_step(staff.email)
    for _ in range(2):
        browser.post("/login/code/", {"code": wrong_code(secret)})
    locked = browser.post("/login/code/", {"code": totp_code(secret, steps_ahead=1)})

    assert locked.status_code == 429
    assert "Too many failed log-ins; try again in" in locked.content.decode()
    assert "_auth_user_id" not in browser.session


def test_a_session_logged_in_without_the_code_must_give_it_first(staff, required):
    browser, _ = _password_step(staff.email)
    secret = _enrol(browser)
    other = Client()
    other.force_login(staff)  # e.g. a session from before the device was confirmed

    refused = other.get("/ops/")
    assert refused.status_code == 302
    assert refused["Location"].startswith("/login/code/?next=")
    done = other.post(refused["Location"], {"code": totp_code(secret, steps_ahead=1)})

    assert done["Location"] == "/ops/"
    assert other.get("/ops/").status_code == 200


def test_without_the_requirement_staff_reach_the_admin_with_a_password(staff, settings):
    settings.STAFF_REQUIRE_MFA = False
    browser, _ = _password_step(staff.email)

    assert browser.get("/admin/").status_code == 200


def test_a_customer_may_turn_it_on_and_off(user):
    browser, _ = _password_step(user.email)
    secret = _enrol(browser, next_url="/account/")
    assert "each log-in asks for a code" in browser.get("/account/").content.decode()

    browser.post("/account/two-factor/remove", {"code": totp_code(secret, steps_ahead=1)})

    assert not TOTPDevice.objects.filter(user=user).exists()
    _, response = _password_step(user.email)
    assert response["Location"] != "/login/code/"
