"""Browser hygiene headers: a Content-Security-Policy on every page that allows no inline code, a Permissions-Policy
that turns the microphone on only where a customer records, and `no-store` on every answer that shows a secret.
(That the pages still work under these policies is proven in a real browser: tests/e2e/browser.py fails any
browser test whose console reports a policy violation.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
PUBLIC_URL = "https://93.184.215.14/hooks/odiadev"


def _directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def _permissions(response) -> dict[str, str]:
    return dict(item.strip().split("=", 1) for item in response["Permissions-Policy"].split(","))


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path", ["/", "/history/", "/voices/", "/keys/", "/webhooks/", "/billing/", "/pronunciations/", "/provenance/"]
)
def test_every_dashboard_page_has_a_csp_without_inline_code(logged_in, path):
    response = logged_in.get(path, follow=True)

    assert response.status_code == 200
    csp = _directives(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    # The live job socket of this very host, and recordings played back before they are uploaded.
    assert "ws://testserver" in csp["connect-src"]
    assert "'self'" in csp["connect-src"]
    assert csp["media-src"] == ["'self'", "blob:"]


def test_a_tls_request_allows_only_the_wss_socket_of_its_host(logged_in):
    response = logged_in.get("/", secure=True, HTTP_HOST="localhost")

    connect = _directives(response)["connect-src"]
    assert "wss://localhost" in connect
    assert not any(source.startswith("ws://") for source in connect)


def test_error_pages_api_and_admin_carry_both_policies(logged_in, admin_client):
    for response in (logged_in.get("/no-such-page/"), logged_in.get("/v1/voices"), admin_client.get("/admin/")):
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert _permissions(response)["microphone"] == "()"


def test_swagger_ui_loads_its_init_script_as_a_file(client):
    page = client.get("/v1/docs")
    html = page.content.decode()

    assert page.status_code == 200
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script on /v1/docs"
    assert "<style" not in html
    script = client.get("/v1/docs?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


def test_the_microphone_is_allowed_on_the_voices_page_only(logged_in):
    voices = _permissions(logged_in.get("/voices/"))
    dashboard = _permissions(logged_in.get("/"))

    assert voices["microphone"] == "(self)"
    assert dashboard["microphone"] == "()"
    for policy in (voices, dashboard):
        assert policy["camera"] == "()"
        assert policy["geolocation"] == "()"
        assert policy["payment"] == "()"


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_hold_no_inline_script_handler_or_style(template):
    html = template.read_text()

    # A JSON data block (`json_script`) is not executed and the CSP allows it; any other <script> needs a src.
    inline = re.findall(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", html)
    assert not inline, f"inline <script> in {template.name}: move it to static/js"
    assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler in {template.name}: use data-confirm"
    assert not re.search(r"\sstyle\s*=", html), f"inline style in {template.name}: use a class in app.css"
    assert "<style" not in html, f"<style> in {template.name}: use a static stylesheet"


def test_the_page_with_a_new_api_key_is_never_stored(logged_in):
    shown = logged_in.post("/keys/", {"name": "laptop"}, follow=True)

    assert "odk_" in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]


def test_the_page_with_a_new_webhook_secret_is_never_stored(logged_in, user):
    shown = logged_in.post("/webhooks/", {"url": PUBLIC_URL, "events": ["job.succeeded"]}, follow=True)

    endpoint = WebhookEndpoint.objects.get(user=user)
    assert endpoint.secret in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    rotated = logged_in.post(f"/webhooks/{endpoint.id}/rotate", follow=True)
    endpoint.refresh_from_db()
    assert endpoint.secret in rotated.content.decode()
    assert "no-store" in rotated["Cache-Control"]


def test_api_answers_with_a_webhook_secret_are_never_stored(api: APIClient):
    created = api.post("/v1/webhooks", {"url": PUBLIC_URL, "events": ["job.succeeded"]}, format="json")
    rotated = api.post(f"/v1/webhooks/{created.json()['webhook']['id']}/rotate-secret")
    listed = api.get("/v1/webhooks")

    assert created.status_code == 201
    assert rotated.status_code == 200, rotated.content
    assert "no-store" in created["Cache-Control"]
    assert "no-store" in rotated["Cache-Control"]
    assert "no-store" not in listed.get("Cache-Control", "")  # only the answers that carry a secret
