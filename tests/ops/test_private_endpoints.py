"""/metrics and the detailed /health answer only our scrapers (METRICS_TOKEN or METRICS_ALLOWED_IPS); anyone else
gets the same 404 as an unknown path, and their probes count against the address's rate limit. /health/live stays
public and says nothing but "ok"."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent.parent
OUTSIDE = "203.0.113.9"
PRIVATE = ["/metrics", "/health"]


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = "scrape-" + "s3cret" * 4
    return settings.METRICS_TOKEN


@pytest.mark.parametrize("path", PRIVATE)
def test_an_outsider_gets_the_same_404_as_an_unknown_path(db, token, path):
    outsider = Client(REMOTE_ADDR=OUTSIDE)

    refused = outsider.get(path)
    unknown = outsider.get("/no-such-page")

    assert refused.status_code == unknown.status_code == 404
    assert refused["Content-Type"] == unknown["Content-Type"]
    assert refused.content.replace(path.encode(), b"") == unknown.content.replace(b"/no-such-page", b"")
    assert b"odiadev_" not in refused.content
    assert b"hostname" not in refused.content


@pytest.mark.parametrize("path", PRIVATE)
def test_the_token_opens_them_from_anywhere(db, token, path):
    response = Client(REMOTE_ADDR=OUTSIDE).get(path, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code in (200, 503)  # 503: /health saying "down" (no worker here) is still an answer
    assert (b"odiadev_" in response.content) if path == "/metrics" else ("checks" in response.json())


@pytest.mark.parametrize("header", ["Bearer wrong", "Bearer ", "Basic c2NyYXBlOg==", ""])
def test_a_wrong_or_empty_token_is_refused(db, token, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    assert Client(REMOTE_ADDR=OUTSIDE).get("/metrics", **extra).status_code == 404


def test_no_token_configured_opens_nothing(db, settings):
    settings.METRICS_TOKEN = ""
    assert Client(REMOTE_ADDR=OUTSIDE).get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_an_allowed_network_needs_no_token(db, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "2001:db8::/32"]

    assert Client(REMOTE_ADDR="10.20.30.40").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="2001:db8::5").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="11.0.0.1").get("/metrics").status_code == 404
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 404  # loopback is no longer listed


def test_behind_a_proxy_the_client_address_decides_not_the_proxys(db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    via_proxy = Client(REMOTE_ADDR="127.0.0.1")  # the proxy on the same host

    assert via_proxy.get("/metrics", HTTP_X_FORWARDED_FOR=OUTSIDE).status_code == 404
    assert via_proxy.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200


def test_liveness_stays_public_and_minimal(db):
    response = Client(REMOTE_ADDR=OUTSIDE).get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_outsiders_probes_are_rate_limited_and_scrapers_are_not(db, settings, token):
    settings.RATE_LIMIT_PER_IP_PER_MINUTE = 3
    outsider, scraper = Client(REMOTE_ADDR=OUTSIDE), Client(REMOTE_ADDR="198.51.100.4")

    probes = [outsider.get("/metrics").status_code for _ in range(4)]
    scrapes = [scraper.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").status_code for _ in range(6)]

    assert probes == [404, 404, 404, 429]
    assert scrapes == [200] * 6


def test_production_trusts_no_address_by_default():
    env = {
        **{k: v for k, v in os.environ.items() if k != "METRICS_ALLOWED_IPS"},
        "DJANGO_SETTINGS_MODULE": "odiadev.settings.production",
        "DJANGO_SECRET_KEY": "x" * 60,
    }
    code = "from django.conf import settings; print(repr(settings.METRICS_ALLOWED_IPS))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_documented_scrape_config_sends_the_token():
    text = (ROOT / "docs" / "security.md").read_text()
    section = text[text.index("## Transport and operations") :]
    snippet = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    job = yaml.safe_load(snippet)["scrape_configs"][0]

    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert set(job["authorization"]) & {"credentials", "credentials_file"}
