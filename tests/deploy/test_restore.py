"""The backup and restore procedure of docs/operations.md, run for real on PostgreSQL: `pg_dump -Fc` of the live
database, `pg_restore` into a fresh one, and the application served from the restored database answers an API key
that exists only in the dump (PostgreSQL only: CI runs PostgreSQL; SQLite's backup is a file copy)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import httpx
import pytest
from django.conf import settings
from django.db import connection

from accounts.models import User
from accounts.services import api_key_create, user_create
from billing.services import plan_assign
from tests.support.processes import ROOT, database_url, free_port, start_web, stop, wait_for_web

pytestmark = [
    # (decided before the test database is set up: the engine is known from the settings alone)
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="pg_dump / pg_restore: PostgreSQL only (CI runs PostgreSQL; set DATABASE_URL)",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def postgresql():
    for tool in ("pg_dump", "pg_restore", "createdb", "dropdb"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def _pg_env(settings_dict: dict) -> dict:
    env = {**os.environ, "PGHOST": settings_dict.get("HOST") or "localhost", "PGUSER": settings_dict["USER"]}
    if settings_dict.get("PORT"):
        env["PGPORT"] = str(settings_dict["PORT"])
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
    return env


def _run(command: list[str], env: dict) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{command[0]} failed: {result.stderr}"


@pytest.fixture
def restored_database(postgresql):
    """The name of a fresh database, dropped after the test."""
    env = _pg_env(connection.settings_dict)
    name = f"{connection.settings_dict['NAME']}_restored_{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["dropdb", "--if-exists", "--force", name], env=env, capture_output=True, timeout=60)


def test_a_dump_restored_into_a_fresh_database_serves_the_accounts_it_holds(restored_database, tmp_path):
    # given a customer with an API key on the Pro plan in the live database
    user = user_create(email="restore@example.com", password=None)
    plan_assign(user=user, slug="pro")
    secret = api_key_create(user=user, name="restore drill").secret

    # when the database is dumped as docs/operations.md says (custom format), then the customer is lost ...
    env = _pg_env(connection.settings_dict)
    dump = tmp_path / "odiadev.dump"
    _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(dump), connection.settings_dict["NAME"]], env)
    User.objects.filter(pk=user.pk).delete()
    # ... and the dump is restored into a fresh database
    _run(["createdb", restored_database], env)
    _run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", restored_database, str(dump)], env)

    # then `manage.py migrate --check` finds nothing to apply: the restored schema is the release's
    restored_url = database_url({**connection.settings_dict, "NAME": restored_database})
    app_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "odiadev.settings.test",
        "DATABASE_URL": restored_url,
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
    }
    check = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check", "--noinput"],
        cwd=ROOT,
        env=app_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, f"restored database lacks migrations: {check.stdout}{check.stderr}"

    # and the web tier started on the restored database serves the lost customer's key and plan
    port = free_port()
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    base_url = f"http://127.0.0.1:{port}"
    daphne = start_web(port, app_env, log_dir)

    try:
        wait_for_web(base_url, [daphne], lambda: (log_dir / "daphne.log").read_text()[-4000:])
        answer = httpx.get(f"{base_url}/v1/usage", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
        refused = httpx.get(f"{base_url}/v1/usage", headers={"Authorization": "Bearer odiadev_nope_x"}, timeout=10)
    finally:
        stop(daphne)
    assert answer.status_code == 200, answer.text
    assert answer.json()["plan"]["slug"] == "pro"
    assert refused.status_code == 401
