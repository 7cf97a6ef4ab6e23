"""A worker keeps its database connection from one task to the next. Celery's Django fix-up closes every connection
around each task, and in a prefork pool process the PostgreSQL connection pool whole (celery#10554): each job then
opened a new server session, twice on a job's path (its claim, its success). odiadev/celery.py closes only what
Django would close at a request's end."""

from __future__ import annotations

import httpx
import pytest
from django.db import connection

from accounts.services import api_key_create
from billing.services import plan_assign
from tests.e2e.helpers import bearer
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="counts PostgreSQL's server sessions"),
]

JOBS = 6


def _sessions_opened() -> int:
    """Sessions established on the test database so far (PostgreSQL's statistics, read afresh)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _synthesize(stack, secret: str, text: str) -> None:
    response = httpx.post(
        f"{stack.base_url}/v1/tts",
        json={"text": text, "voice_id": "joe", "format": "wav", "wait": True},
        headers=bearer(secret),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "succeeded", response.json()


def test_jobs_run_one_after_another_on_the_workers_kept_database_session(stack):
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    secret = api_key_create(user=user, name="sessions").secret
    _synthesize(stack, secret, "The worker opens its database connection for this first job.")  # every pool warm
    before = _sessions_opened()

    for index in range(JOBS):
        _synthesize(stack, secret, f"Job number {index} runs on the connection the worker already holds.")

    opened = _sessions_opened() - before
    # (one per job, or two, when each task opened its own; a web process's pool may open one more meanwhile)
    assert opened <= 2, f"{opened} database sessions were opened for {JOBS} jobs run one after another"
