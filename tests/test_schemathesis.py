"""Schema fuzzing: schemathesis generates requests from /v1/schema and sends them to the real stack (Daphne and a
Celery worker, the `stack` fixture); any 5xx, any status the schema does not list for the operation and any
response body that does not match its schema fails the run.

schemathesis lives in its own virtual environment (`.venv-schemathesis`, a pinned version; it must not change the
app's packages), so this test runs only from `make schemathesis`, which creates it and sets SCHEMATHESIS_BIN. The run
is bounded (SCHEMATHESIS_MAX_EXAMPLES per operation, default 20) so that it adds a few minutes to CI.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from accounts.services import api_key_create
from tests.factories import UserFactory

SCHEMATHESIS_BIN = os.environ.get("SCHEMATHESIS_BIN", "")
# The run's output and JUnit report, kept after the run (var/ is not committed).
REPORT_DIR = Path(__file__).resolve().parent.parent / "var" / "schemathesis"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not SCHEMATHESIS_BIN, reason="schema fuzzing runs from `make schemathesis` (its own venv)"),
]

if SCHEMATHESIS_BIN:
    # The stack (started from this session's environment) without rate limits: a fuzzer sends hundreds of requests a
    # minute, and 429s would leave the logic behind them untested. The limits have their own tests.
    os.environ.setdefault("RATE_LIMITS_ENABLED", "false")
    os.environ.setdefault("PROVENANCE_VERIFY_PER_IP_PER_MINUTE", "100000")
    # (the stack's own setting already allows webhooks to 127.0.0.1, where nothing listens on port 9)

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


def _seed(base_url: str, secret: str) -> dict[str, str]:
    """One object of each kind the schema's path ids name, made through the API, so that operations on an id reach
    their logic rather than a 404 (a random UUID is all a generator can guess)."""
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:

        def post(path: str, body: dict | None = None) -> dict:
            response = client.post(path, json=body)
            assert response.status_code < 300, (path, response.status_code, response.text)
            return response.json()

        job = post("/v1/tts", {"text": "Seed for the schema run.", "wait": True})
        webhook = post("/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["job.succeeded"]})["webhook"]
        delivery = post(f"/v1/webhooks/{webhook['id']}/test")
        return {
            "job_id": job["id"],
            "pronunciation_id": post("/v1/pronunciations", {"word": "ODIADEV", "replacement": "oh dee ah dev"})["id"],
            "webhook_id": webhook["id"],
            "delivery_id": delivery["id"],
            "challenge_id": post("/v1/voices/consent-challenge")["id"],
        }


@pytest.mark.timeout(900)
def test_generated_requests_get_no_server_error_and_match_the_schema(stack, tmp_path: Path):
    # given: a customer with an API key on the Free plan (its quota bounds how much real synthesis the run buys)
    user = UserFactory()
    secret = api_key_create(user=user, name="schemathesis").secret
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        + "".join(f'"path.{name}" = "{value}"\n' for name, value in _seed(stack.base_url, secret).items())
    )

    # when: schemathesis runs every operation of the published schema against the stack
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    command = [
        SCHEMATHESIS_BIN,
        "--config-file",
        str(config),
        "run",
        f"{stack.base_url}/v1/schema",
        "--url",
        stack.base_url,
        "--header",
        f"Authorization: Bearer {secret}",
        "--checks",
        CHECKS,
        "--max-examples",
        os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"),
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        os.environ.get("SCHEMATHESIS_SEED", "14"),
        "--request-timeout",
        "60",
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(REPORT_DIR / "junit.xml"),
    ]
    # (run in REPORT_DIR: schemathesis keeps its cache of earlier failures in .schemathesis/ there)
    result = subprocess.run(command, cwd=REPORT_DIR, capture_output=True, text=True, timeout=840, check=False)

    # then: no failure of any check
    output = result.stdout + result.stderr
    (REPORT_DIR / "output.txt").write_text(output)
    assert result.returncode == 0, f"schemathesis found failures:\n{output[-20000:]}\n{stack.logs()}"
