"""Password reset by email (the link read from the outbox) and password change."""

import re

import pytest
from django.core import mail
from django.test import Client

from tests.factories import PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase-77"


def _can_log_in(email: str, password: str, ip: str = "198.51.100.30") -> bool:
    browser = Client(REMOTE_ADDR=ip)
    browser.post("/login/", {"username": email, "password": password})
    return "_auth_user_id" in browser.session


def _reset_link(message) -> str:
    match = re.search(r"http://testserver(/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_reset_by_email(db, user):
    browser = Client()
    assert browser.get("/password_reset/").status_code == 200
    assert 'href="/password_reset/"' in browser.get("/login/").content.decode()

    sent = browser.post("/password_reset/", {"email": user.email}, follow=True)

    assert 'data-testid="reset-sent"' in sent.content.decode()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    # the link leads to a form (Django swaps the token for a session-held one), which sets the new password
    form_page = browser.get(_reset_link(mail.outbox[0]), follow=True)
    assert "new_password1" in form_page.content.decode()
    done = browser.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    assert 'data-testid="reset-complete"' in done.content.decode()
    assert _can_log_in(user.email, NEW_PASSWORD)
    assert not _can_log_in(user.email, PASSWORD)
    # the link works once
    again = Client().get(_reset_link(mail.outbox[0]), follow=True)
    assert 'data-testid="reset-link-invalid"' in again.content.decode()


def test_reset_for_an_unknown_address_says_the_same_and_sends_nothing(db):
    response = Client().post("/password_reset/", {"email": "nobody@example.com"}, follow=True)

    assert 'data-testid="reset-sent"' in response.content.decode()
    assert mail.outbox == []


def test_a_reset_ends_a_lock_from_wrong_guesses(db, user, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    for _ in range(2):
        _can_log_in(user.email, "guess", ip="203.0.113.40")
    assert not _can_log_in(user.email, PASSWORD)  # locked

    browser = Client()
    browser.post("/password_reset/", {"email": user.email})
    form_page = browser.get(_reset_link(mail.outbox[0]), follow=True)
    browser.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert _can_log_in(user.email, NEW_PASSWORD)


def test_reset_emails_are_throttled_per_address(db, user, settings):
    settings.PASSWORD_RESETS_PER_ADDRESS = 2
    browser = Client(REMOTE_ADDR="198.51.100.44")

    answers = [browser.post("/password_reset/", {"email": user.email}) for _ in range(3)]

    assert [a.status_code for a in answers] == [302, 302, 429]
    assert "Too many password resets" in answers[2].content.decode()
    assert len(mail.outbox) == 2


@pytest.fixture
def logged_in(user):
    browser = Client()
    browser.post("/login/", {"username": user.email, "password": PASSWORD})
    return browser


def test_password_change(db, user, logged_in):
    assert logged_in.get("/password_change/").status_code == 200

    wrong = logged_in.post(
        "/password_change/",
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    done = logged_in.post(
        "/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert 'data-testid="old-password-error"' in wrong.content.decode()
    assert 'data-testid="password-changed"' in done.content.decode()
    assert logged_in.get("/keys/").status_code == 200  # this session stays logged in
    assert _can_log_in(user.email, NEW_PASSWORD)
    assert not _can_log_in(user.email, PASSWORD, ip="198.51.100.31")


def test_password_change_needs_a_log_in(db):
    response = Client().get("/password_change/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
