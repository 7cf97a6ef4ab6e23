"""Runtime limits: the deployment's default, an operator's value from the admin, an environment override."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from controls.limits import LimitName, limit_set, limit_state, limit_value, limits_cache_clear
from controls.models import Limit


@pytest.fixture(autouse=True)
def _fresh_limits():
    limits_cache_clear()
    yield
    limits_cache_clear()


def test_the_default_comes_from_settings(db):
    with override_settings(OOM_BREAKER_THRESHOLD=7):
        assert limit_value(LimitName.OOM_BREAKER_THRESHOLD) == 7
        assert limit_state(LimitName.OOM_BREAKER_THRESHOLD)["source"] == "default"


def test_an_operators_value_wins_over_the_default_and_the_environment_over_both(db, monkeypatch):
    limit_set(name=LimitName.ABUSE_RATE_FACTOR, value=4.5, reason="a quiet week")
    limits_cache_clear()  # as after the cache interval in another process

    assert limit_value(LimitName.ABUSE_RATE_FACTOR) == 4.5
    assert limit_state(LimitName.ABUSE_RATE_FACTOR)["source"] == "operators"

    monkeypatch.setenv("LIMIT_ABUSE_RATE_FACTOR", "2")
    assert limit_value(LimitName.ABUSE_RATE_FACTOR) == 2.0
    assert limit_state(LimitName.ABUSE_RATE_FACTOR)["source"] == "environment"


def test_a_lowered_per_address_limit_applies_to_the_next_requests(db):
    limit_set(name=LimitName.RATE_LIMIT_PER_IP_PER_MINUTE, value=3, reason="under attack")
    limits_cache_clear()
    client = Client(REMOTE_ADDR="198.51.100.77")

    statuses = [client.get("/login/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_operators_set_a_limit_in_the_admin(db, admin_client):
    response = admin_client.post(
        "/admin/controls/limit/add/",
        {"name": LimitName.OOM_BREAKER_THRESHOLD, "value": "5", "reason": "bigger GPUs"},
    )

    assert response.status_code == 302
    row = Limit.objects.get(name=LimitName.OOM_BREAKER_THRESHOLD)
    assert (row.value, row.changed_by.is_staff) == (5.0, True)
    limits_cache_clear()
    assert limit_value(LimitName.OOM_BREAKER_THRESHOLD) == 5


def test_a_limit_below_its_minimum_is_refused(db):
    with pytest.raises(ValueError, match="at least"):
        limit_set(name=LimitName.OOM_BREAKER_WINDOW, value=-1, reason="typo")


def test_old_admin_bookmarks_of_moved_models_redirect(db, admin_client):
    assert admin_client.get("/admin/ops/switch/").url == "/admin/controls/switch/"
    assert admin_client.get("/admin/ops/userblock/").url == "/admin/accounts/userblock/"
