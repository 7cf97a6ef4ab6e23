"""Tasks are sent through the project's Celery app from any thread, and a queue can be emptied at the broker.

The apps send tasks through `celery.current_app` (they never import the project's `odiadev.celery`). Celery keeps
its "current" app per thread; other threads (a request's) get the default app, which the project sets to its own.
Were that lost, they would send to Celery's own fallback app (`amqp://localhost`) and every send would fail into the
sweeper.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from core.broker import queue_length, queue_purge
from core.tasks import task_send

ROOT = Path(__file__).resolve().parents[2]


def test_a_task_sent_from_a_new_thread_reaches_the_projects_broker_and_a_purge_empties_its_queue():
    queue = f"thread-send-{uuid.uuid4().hex[:8]}"  # no worker listens here
    sent: list[bool] = []
    threads = [
        threading.Thread(
            target=lambda: sent.append(task_send("synthesis.run_job", args=["x"], queue=queue, failure="send failed"))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sent == [True, True, True]
        assert queue_length(queue) == 3
    finally:
        dropped = queue_purge(queue)
    assert dropped == 3
    assert queue_length(queue) == 0
    assert queue_purge(queue) == 0, "safe to repeat"


def test_the_projects_app_is_every_threads_even_when_another_app_was_made_first():
    # Any read of `celery.current_app` before the project's app exists makes Celery's fallback app the default.
    probe = (
        "from celery import current_app; current_app.conf; "
        "import threading, django; django.setup(); "
        "seen = []; t = threading.Thread(target=lambda: seen.append(current_app.main)); t.start(); t.join(); "
        "print(seen[0])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "odiadev.settings.test"}

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "odiadev"
