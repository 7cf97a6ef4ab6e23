"""The admin index an operator opens: our apps first in working order, dj-stripe's mirror of Stripe last, and
every plural name spelled right."""

from __future__ import annotations

import re

from django.contrib import admin
from django.test import Client

from tests.factories import PASSWORD, UserFactory

OURS = {"accounts", "voices", "synthesis", "billing", "webhooks", "provenance", "controls", "ops"}


def _admin_page(path: str = "/admin/") -> str:
    operator = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.login(email=operator.email, password=PASSWORD)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def _sections(page: str) -> list[str]:
    return re.findall(r'<div class="app-(\w+) module', page)


def test_our_apps_come_first_and_dj_stripe_last(db):
    page = _admin_page()

    sections = _sections(page.split('id="content-main"', 1)[1])  # the index, not the sidebar

    order = ["accounts", "voices", "synthesis", "billing", "webhooks", "provenance", "controls", "ops", "auth"]
    expected = [label for label in order if label in sections]
    assert sections[: len(expected)] == expected
    assert {"billing", "controls", "ops"} <= set(expected)
    assert sections[-1] == "djstripe"
    assert "Stripe mirror (dj-stripe)" in page
    assert "Two-factor devices" in page
    assert "Otp_Totp" not in page


def test_plural_names_are_spelled_right(db):
    page = _admin_page()

    assert "Ledger entries" in page
    assert "Switches" in page
    assert "Ledger entrys" not in page
    assert "Switchs" not in page
    for model in admin.site._registry:
        if model._meta.app_label in OURS:
            plural = str(model._meta.verbose_name_plural)
            assert not re.search(r"([^aeiou]ys|(ch|sh|ss|x)s)$", plural), f"{model.__name__}: {plural}"
