"""The API docs are public (also to a signed-in account whose email is not verified yet), and their "Try it out"
calls the host that served them, unless PUBLIC_BASE_URL names one."""

import importlib
import os

import pytest
from django.test import Client

from tests.factories import UserFactory


def test_the_schema_names_no_fixed_server_by_default(db):
    schema = Client().get("/v1/schema?format=json", HTTP_HOST="localhost").json()

    # no `servers`: Swagger UI then sends requests to the origin of the page, whatever host and port that is
    assert not schema.get("servers")


def test_public_base_url_when_set_is_the_server(monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://api.example.com")
    import odiadev.settings.base as base

    try:
        assert importlib.reload(base).SPECTACULAR_SETTINGS["SERVERS"] == [{"url": "https://api.example.com"}]
    finally:
        monkeypatch.delenv("PUBLIC_BASE_URL")
        importlib.reload(base)
    assert os.environ.get("PUBLIC_BASE_URL") is None


@pytest.mark.parametrize("path", ["/v1/docs", "/v1/docs?script", "/v1/schema"])
def test_an_account_that_has_not_verified_its_email_reads_the_docs(db, path):
    # given a sign-up signed in on the dashboard, its email not verified yet (the API refuses its session)
    client = Client(HTTP_HOST="localhost")
    client.force_login(UserFactory(email_verified_at=None))
    assert client.get("/v1/voices").json()["error"]["code"] == "email_unverified"

    # when it follows the dashboard's "API docs" link, then the docs answer (they failed with a 500)
    assert client.get(path).status_code == 200
