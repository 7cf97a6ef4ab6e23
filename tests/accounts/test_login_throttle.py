"""Failed log-ins lock the account, and the client address, for a while: further log-ins are refused with a clear
message even with the right password, until the window passes. Sign-ups are throttled per address. Redis out of
reach: log-ins still work (the throttle fails open), sign-ups say to try again (503)."""

import time

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import User
from tests.factories import PASSWORD, UserFactory
from tests.support.killable_redis import KillableRedis

LOCKED = "Too many failed log-ins; try again in"


def _log_in(email: str, password: str, ip: str = "198.51.100.20"):
    browser = Client(REMOTE_ADDR=ip)
    response = browser.post("/login/", {"username": email, "password": password})
    return response, browser


def _logged_in(browser: Client) -> bool:
    return "_auth_user_id" in browser.session


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    settings.LOGIN_LOCKOUT_SECONDS = 900
    return settings


def test_wrong_passwords_lock_the_account_even_against_the_right_one(db, user, limits):
    wrong = [_log_in(user.email, "not-the-password")[0] for _ in range(3)]
    assert [r.status_code for r in wrong] == [200, 200, 200]
    assert "Wrong email or password." in wrong[0].content.decode()

    # the right password, now, from the same and from another address
    for ip in ("198.51.100.20", "203.0.113.99"):
        response, browser = _log_in(user.email, PASSWORD, ip=ip)
        assert response.status_code == 429
        assert f"{LOCKED} 15 minutes." in response.content.decode()
        assert int(response["Retry-After"]) > 800
        assert not _logged_in(browser)


def test_the_lock_ends_when_the_window_passes(db, user, limits):
    limits.LOGIN_LOCKOUT_SECONDS = 2
    for _ in range(3):
        _log_in(user.email, "not-the-password")
    response, _ = _log_in(user.email, PASSWORD)
    assert response.status_code == 429
    assert f"{LOCKED} 1 minute." in response.content.decode()

    time.sleep(2.5)

    response, browser = _log_in(user.email, PASSWORD)
    assert response.status_code == 302
    assert _logged_in(browser)


def test_a_successful_log_in_clears_the_accounts_failures(db, user, limits):
    for _ in range(2):
        _log_in(user.email, "not-the-password")
    assert _log_in(user.email, PASSWORD)[0].status_code == 302

    for _ in range(2):
        _log_in(user.email, "not-the-password")
    response, browser = _log_in(user.email, PASSWORD)

    assert response.status_code == 302
    assert _logged_in(browser)


def test_the_email_is_matched_whatever_its_case(db, user, limits):
    for _ in range(3):
        _log_in(user.email.upper(), "not-the-password")

    assert _log_in(user.email, PASSWORD)[0].status_code == 429


def test_failures_from_one_address_lock_that_address(db, limits):
    victims = [UserFactory() for _ in range(5)]
    bystander = UserFactory()
    for victim in victims:  # one wrong guess each: no account reaches its own limit
        _log_in(victim.email, "not-the-password", ip="192.0.2.66")

    # the address is locked, for any account, the right password too
    response, browser = _log_in(bystander.email, PASSWORD, ip="192.0.2.66")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert not _logged_in(browser)
    # other addresses are not
    response, browser = _log_in(bystander.email, PASSWORD, ip="192.0.2.67")
    assert response.status_code == 302
    assert _logged_in(browser)


def test_the_admin_login_is_the_throttled_one(db, limits):
    response = Client().get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/admin/")


# ---------------------------------------------------------------------------------------------------------------
# Sign-ups
# ---------------------------------------------------------------------------------------------------------------
def _sign_up(email: str, ip: str, password: str = PASSWORD):
    return Client(REMOTE_ADDR=ip).post("/signup/", {"email": email, "password": password})


def test_sign_ups_are_throttled_per_address(db, settings):
    settings.SIGNUPS_PER_ADDRESS = 3

    statuses = [_sign_up(f"wave{i}@example.com", ip="198.51.100.77").status_code for i in range(3)]
    refused = _sign_up("wave3@example.com", ip="198.51.100.77")

    assert statuses == [302, 302, 302]
    assert refused.status_code == 429
    assert "Too many sign-ups from your network; try again in 60 minutes." in refused.content.decode()
    assert not User.objects.filter(email="wave3@example.com").exists()
    # another address signs up
    assert _sign_up("elsewhere@example.com", ip="198.51.100.78").status_code == 302


def test_a_sign_up_that_fails_uses_no_slot(db, settings, user):
    settings.SIGNUPS_PER_ADDRESS = 1

    taken = _sign_up(user.email, ip="198.51.100.80")
    weak = _sign_up("weak@example.com", ip="198.51.100.80", password="123")
    accepted = _sign_up("fine@example.com", ip="198.51.100.80")

    assert taken.status_code == 200
    assert "already exists" in taken.content.decode()
    assert weak.status_code == 200
    assert accepted.status_code == 302


# ---------------------------------------------------------------------------------------------------------------
# Redis out of reach
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture
def redis_down(settings, tmp_path):
    """The cache (throttles, rate limits, switches) at a port where no Redis listens."""
    dead = KillableRedis(tmp_path)  # never started
    settings.CACHES = {"default": {**django_settings.CACHES["default"], "LOCATION": dead.url}}
    return dead


def test_with_redis_down_log_ins_still_work_and_sign_ups_wait(db, user, redis_down):
    response, browser = _log_in(user.email, PASSWORD)
    wrong, _ = _log_in(user.email, "not-the-password")
    signup = _sign_up("during-outage@example.com", ip="198.51.100.90")

    assert response.status_code == 302
    assert _logged_in(browser)
    assert wrong.status_code == 200
    assert signup.status_code == 503
    assert "try again shortly" in signup.content.decode()
    assert not User.objects.filter(email="during-outage@example.com").exists()
