"""Redis SIGKILLed and restarted under a live stack of its own (Daphne, a Celery worker, Redis): while it is down
every API call answers 503 with Retry-After and a websocket is refused with close 4503 (never HTTP 500); a job
committed while the broker is down is charged once and sent by the sweeper when Redis is back; the queued jobs the
crash lost all finish, each charged once; the first websocket after the restart connects."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from django.conf import settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from accounts.services import api_key_create
from billing.models import EntryKind, LedgerEntry
from billing.services import plan_assign
from synthesis.models import JobStatus, SynthesisJob
from tests.conftest import Stack
from tests.e2e.helpers import bearer, open_socket, submit
from tests.factories import UserFactory
from tests.support.killable_redis import KillableRedis
from tests.support.processes import ROOT, database_url, free_port, start_web, start_worker, stop, wait_for_web

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = "The quick brown fox jumps over the lazy dog, and then it runs all the way home again. Number {n}."


@pytest.fixture
def redis_server(tmp_path):
    server = KillableRedis(tmp_path / "redis")
    (tmp_path / "redis").mkdir()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def outage_stack(django_db_setup, tmp_path, redis_server):
    """Daphne and a worker whose Redis (broker, cache, channel layer) is `redis_server`."""
    from django.db import connection

    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_CACHE_URL", "REDIS_CHANNEL_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "odiadev.settings.test",
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": redis_server.url,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "WORKER_HEARTBEAT_INTERVAL": "1",
            "PYTHONUNBUFFERED": "1",
            "STRIPE_SECRET_KEY": "",
        }
    )
    stack = Stack(base_url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}", log_dir=tmp_path)
    procs = [start_web(port, env, tmp_path), start_worker(f"outage-{port}", "synth,default", env, tmp_path)]
    stack.env = env
    try:
        wait_for_web(stack.base_url, procs, stack.logs, timeout=60)
        yield stack
    finally:
        for proc in procs:
            stop(proc)


def _manage(stack, code: str, **env) -> str:
    """Run `code` in a fresh Django process of the stack (as beat's sweeper or another web process would)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**stack.env, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _sweep(stack) -> dict:
    # TTS_REQUEUE_AFTER=0: every queued job counts as lost, as it is after a Redis crash that emptied the queue.
    out = _manage(
        stack,
        "import json; from synthesis.sweeper import synthesis_jobs_sweep; print(json.dumps(synthesis_jobs_sweep()))",
        TTS_REQUEUE_AFTER="0",
    )
    return json.loads(out.strip().splitlines()[-1])


def _job_status(job_id: str) -> str:
    return SynthesisJob.objects.values_list("status", flat=True).get(pk=job_id)  # (the API would rate-limit polls)


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_redis_killed_and_restarted_under_a_live_stack(outage_stack, redis_server):
    stack = outage_stack
    user = UserFactory()
    plan_assign(user=user, slug="pro")  # five jobs at a time
    secret = api_key_create(user=user, name="outage").secret

    # given a warm stack: a first job goes through (the worker is up), and a socket is open
    first = submit(stack, secret, text=TEXT.format(n=0), voice_id="joe").json()
    deadline = time.monotonic() + 180
    while _job_status(first["id"]) != "succeeded":
        assert time.monotonic() < deadline, stack.logs()
        time.sleep(0.5)
    socket_before = connect(f"{stack.ws_url}/ws/jobs/?api_key={secret}", open_timeout=30)
    assert json.loads(socket_before.recv(timeout=30))["type"] == "hello"

    # and four more jobs queued when Redis is SIGKILLed (its queue goes with it: no persistence)
    queued = []
    for n in range(1, 5):
        response = submit(stack, secret, text=TEXT.format(n=n), voice_id="joe")
        assert response.status_code == 202, response.text
        queued.append(response.json()["id"])
    redis_server.kill()

    # when the API is called, then every call is a 503 with Retry-After
    _assert_unavailable(submit(stack, secret, text="Refused while Redis is down.", voice_id="joe"))
    _assert_unavailable(httpx.get(f"{stack.base_url}/v1/tts/{first['id']}", headers=bearer(secret), timeout=30))
    _assert_unavailable(httpx.get(f"{stack.base_url}/v1/tts", headers=bearer(secret), timeout=30))
    _assert_unavailable(httpx.get(f"{stack.base_url}/v1/voices", headers=bearer(secret), timeout=30))
    assert not SynthesisJob.objects.filter(text="Refused while Redis is down.").exists()

    # and a websocket is accepted, told why, and closed with 4503 (as HTTP 503; not an HTTP 500)
    try:
        with connect(f"{stack.ws_url}/ws/jobs/?api_key={secret}", open_timeout=30) as ws:
            message = json.loads(ws.recv(timeout=30))
            assert message["error"]["code"] == "service_unavailable"
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
    except InvalidStatus as refused:
        pytest.fail(f"the handshake was answered with HTTP {refused.response.status_code}")
    assert closed.value.rcvd.code == 4503

    # and a job that another web process commits while the broker is down is charged, and waits for the sweeper
    out = _manage(
        stack,
        "from django.contrib.auth import get_user_model; from synthesis.services import synthesis_job_create; "
        f"j = synthesis_job_create(user=get_user_model().objects.get(pk={user.pk}), text='Committed while Redis "
        "was down.', voice_id='joe'); print('JOB', j.id)",
        REDIS_CACHE_URL=settings.REDIS_URL,  # (its cache is up: only the broker and channel layer are down)
    )
    committed = out.split("JOB ")[-1].strip()
    row = SynthesisJob.objects.get(pk=committed)
    assert row.status == JobStatus.QUEUED
    assert row.enqueued_at is None  # not sent: the sweeper's to send
    queued.append(committed)

    # when Redis comes back (empty)
    redis_server.start()

    # then the first websocket after the restart connects
    with open_socket(stack, api_key=secret) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "pong"
    with contextlib.suppress(ConnectionClosed, OSError):  # (the pre-crash socket may be closed already)
        socket_before.close()

    # and the sweeper sends the lost and the unsent jobs, and every one of them finishes
    sweeps = []
    deadline = time.monotonic() + 240
    while True:
        statuses = {job_id: _job_status(job_id) for job_id in queued}
        if all(status == "succeeded" for status in statuses.values()):
            break
        assert time.monotonic() < deadline, f"{statuses} after sweeps {sweeps}\n{stack.logs()}"
        sweeps.append(_sweep(stack))
        time.sleep(5)
    assert sweeps
    assert sweeps[0]["resent"] >= 1

    # and each job was charged exactly once: one reservation and one capture, no release
    for job_id in [first["id"], *queued]:
        kinds = sorted(LedgerEntry.objects.filter(job_id=job_id).values_list("kind", flat=True))
        assert kinds == sorted([EntryKind.RESERVE, EntryKind.CAPTURE]), (job_id, kinds)
    worker_log = (stack.log_dir / "worker.log").read_text()
    assert not [job_id for job_id in [first["id"], *queued] if f"job {job_id} failed" in worker_log]
