"""Fixtures shared by the suite: users and keys, API clients, and the real stack (Daphne + Celery worker)."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import stripe
from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from accounts.services import api_key_create
from tests.factories import UserFactory
from tests.support.fake_stripe import FakeStripe
from tests.support.processes import database_url, free_port, start_web, start_worker, stop, wait_for, wait_for_web

# Stripe test-mode credentials of the fake Stripe below (dj-stripe checks the key's shape, not its value).
STRIPE_TEST_KEY = "sk_test_odiadevFakeStripeKey000000000001"
STRIPE_TEST_WEBHOOK_SECRET = "whsec_odiadevFakeWebhookSecret"


@pytest.fixture(autouse=True)
def _clean_media_and_cache():
    """Each test starts with an empty media folder and no synthesis cache or metrics in Redis.

    Only our own keys go: the broker's queues and the workers' heartbeats share this Redis and must stay.
    """
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
    Path(settings.MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
    cache.delete_pattern("*")  # the cache's own keys only (synthesis cache, switches), not the broker's
    redis = get_redis_connection("default")
    for pattern in ("metrics:*", "breaker:*", "rl:*"):
        for key in redis.scan_iter(f"{settings.REDIS_KEY_PREFIX}:{pattern}"):
            redis.delete(key)


@pytest.fixture(scope="session", autouse=True)
def _flush_outlasts_a_deadlock():
    """A transactional test ends with a flush (one TRUNCATE of every table). The live stack's worker may still be
    finishing a job as the test ends (a live job's assembly, say), and PostgreSQL can then find the TRUNCATE and
    that transaction waiting on each other and abort the TRUNCATE ("deadlock detected"): the flush is tried again,
    after the worker's transaction has gone through."""
    from django.core.management.base import CommandError
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self, **options):
        for attempt in range(5):
            try:
                return original(self, **options)
            except CommandError as exc:
                if attempt == 4 or "deadlock detected" not in str(exc.__cause__ or ""):
                    raise
                time.sleep(0.5 * (attempt + 1))
        return None

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture(scope="session", autouse=True)
def _close_database_pools(django_db_setup, django_db_blocker):
    """PostgreSQL's connection pool of this process keeps connections open; close it before the test database is
    dropped, or the drop fails ("being accessed by other users")."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def issued_key(user):
    return api_key_create(user=user, name="test")


@pytest.fixture
def api(issued_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued_key.secret}")
    return client


# ------------------------------------------------------------------------------------------------------------
# Stripe: a fake of its API at the HTTP boundary (pytest-httpserver), for this process and the stack's.
# ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def stripe_server():
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=free_port(), threaded=True)
    fake = FakeStripe(base_url=server.url_for("").rstrip("/"))
    server.expect_request(re.compile(r"^/v1/.*")).respond_with_handler(fake.handle)
    server.start()
    yield fake
    server.stop()


@pytest.fixture
def fake_stripe(stripe_server, settings):
    """Stripe mode for this test: keys set, the `stripe` library pointed at the fake, which starts empty."""
    stripe_server.reset()
    settings.STRIPE_SECRET_KEY = STRIPE_TEST_KEY
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_TEST_WEBHOOK_SECRET
    saved, stripe.api_base = stripe.api_base, stripe_server.base_url
    yield stripe_server
    stripe.api_base = saved


# ------------------------------------------------------------------------------------------------------------
# The real stack: Daphne (HTTP + websockets) and a Celery worker, as separate processes on the test database.
# ------------------------------------------------------------------------------------------------------------
@dataclass
class Stack:
    base_url: str
    ws_url: str
    log_dir: Path
    web_pid: int = 0  # the Daphne process (its memory is read from /proc)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.log_dir.glob("*.log")))


@pytest.fixture(scope="session")
def stack(django_db_setup, django_db_blocker, tmp_path_factory, stripe_server):
    from django.db import connection

    from core.heartbeat import worker_is_ready, workers_alive
    from speech.engines.dia_testing import build_tiny_dia

    port = free_port()
    log_dir = tmp_path_factory.mktemp("stack-logs")
    # The stack's cloning engine is Dia, loaded by its production loader from a tiny random model saved here.
    dia_dir, dac_dir = build_tiny_dia(tmp_path_factory.mktemp("tiny-dia"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "odiadev.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "WORKER_HEARTBEAT_INTERVAL": "1",
        "CLONING_ENGINE": "dia",
        "DIA_MODEL_ID": str(dia_dir),
        "DIA_CODEC_ID": str(dac_dir),
        "DIA_CHUNK_SECONDS": "4",
        "DIA_MAX_NEW_TOKENS": "40",
        "PYTHONUNBUFFERED": "1",
        # Stripe mode against the fake Stripe (tests that need local mode run in this process).
        "STRIPE_SECRET_KEY": STRIPE_TEST_KEY,
        "STRIPE_WEBHOOK_SECRET": STRIPE_TEST_WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_server.base_url,
        # Webhook endpoints on the tests' local receiver (http on 127.0.0.1); in-process tests keep the default.
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        # /ws/tts/ contexts end after this many quiet seconds (tests/synthesis/test_live_tts.py waits for it).
        "TTS_WS_CONTEXT_IDLE_SECONDS": "4",
    }
    stack = Stack(base_url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}", log_dir=log_dir)
    procs = [start_web(port, env, log_dir), start_worker(f"test-{port}", "synth,synth_gpu,default", env, log_dir)]
    stack.web_pid = procs[0].pid
    try:
        wait_for_web(stack.base_url, procs, stack.logs)
        with django_db_blocker.unblock():
            # (a worker's heartbeat says `ready` once its engines are loaded and warmed up)
            wait_for(lambda: any(worker_is_ready(w) for w in workers_alive()), 60, "celery worker", procs, stack.logs)
        yield stack
    finally:
        for proc in procs:
            stop(proc)
