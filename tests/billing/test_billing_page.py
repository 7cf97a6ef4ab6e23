"""The Billing page a customer reads: every limit per plan, numbers with separators, one size unit, and the
button each plan gets from where the customer stands."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from billing.services import plan_assign
from billing.views import size
from tests.factories import PASSWORD

from .stripe_world import prices_install

MB = 2**20


def _row(page: str, slug: str) -> str:
    return re.search(rf'<tr data-testid="plan-{slug}".*?</tr>', page, re.S).group(0)


def _cell(row: str, slug: str, name: str) -> str:
    return re.sub(r"\s+", " ", re.search(rf'data-testid="plan-{slug}-{name}">(.*?)</td>', row, re.S).group(1)).strip()


def _page(user) -> str:
    browser = Client()
    browser.login(email=user.email, password=PASSWORD)
    return browser.get("/billing/").content.decode()


def test_the_plans_table_shows_every_limit_formatted(user, settings):
    settings.TTS_MAX_TEXT_CHARS = 5000

    page = _page(user)
    free, pro, business = _row(page, "free"), _row(page, "pro"), _row(page, "business")

    assert _cell(free, "free", "characters") == "10,000"
    assert _cell(pro, "pro", "characters") == "500,000"
    assert _cell(business, "business", "characters") == "2,000,000"
    assert _cell(free, "free", "longest") == "1,000 characters"
    assert _cell(pro, "pro", "longest") == "5,000 characters"
    assert _cell(free, "free", "formats") == "wav, mp3"
    assert "ogg" in _cell(pro, "pro", "formats")
    assert _cell(free, "free", "cloning") == "no"
    assert _cell(pro, "pro", "cloning") == "5 voices"
    assert _cell(pro, "pro", "concurrent") == "5"
    assert _cell(free, "free", "storage") == "100 MB"
    assert _cell(pro, "pro", "storage") == "5 GB"
    assert _cell(business, "business", "storage") == "20 GB"
    assert re.search(r">\d{4,}<", page) is None, "every number of four digits or more has its separators"


def test_one_size_rule_for_the_meter_and_the_table():
    assert size(0) == "0 MB"
    assert size(3 * MB) == "3.0 MB"
    assert size(250 * MB) == "250 MB"
    assert size(999 * MB) == "999 MB"
    assert size(1000 * MB) == "1 GB"
    assert size(5000 * MB) == "5 GB"
    assert size(2500 * MB) == "2.5 GB"


@pytest.fixture
def prices(fake_stripe, db):
    return prices_install(fake_stripe)


def test_buttons_follow_the_current_plan(user, prices):
    plan_assign(user=user, slug="pro")

    page = _page(user)

    assert _cell(_row(page, "pro"), "pro", "action") == "<strong>Current plan</strong>"
    assert 'data-testid="downgrade-starter"' in page
    assert 'data-testid="upgrade-business"' in page
    assert 'data-testid="upgrade-starter"' not in page, "no Upgrade on a lower plan"
    assert 'data-relation="lower"' in _row(page, "free")
    assert "Upgrade" not in _cell(_row(page, "free"), "free", "action")


def test_local_mode_labels_lower_plans_downgrade_too(user, settings):
    settings.STRIPE_SECRET_KEY = ""
    plan_assign(user=user, slug="pro")

    page = _page(user)

    assert "Downgrade</button>" in _cell(_row(page, "starter"), "starter", "action")
    assert "Upgrade</button>" in _cell(_row(page, "business"), "business", "action")
