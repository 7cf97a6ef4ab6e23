"""The API docs' "Try it out" calls the host that served them, unless PUBLIC_BASE_URL names one."""

import importlib
import os

from django.test import Client


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
