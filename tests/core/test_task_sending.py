"""Tasks are sent through the project's Celery app from any thread, and a queue can be emptied at the broker.

The apps send tasks through `celery.current_app` (they never import the project's `odiadev.celery`). Celery keeps
its "current" app per thread; other threads (a request's) get the default app, which Celery's Django fix-up makes
the project's. Were that lost, they would send to Celery's own fallback app (`amqp://localhost`) and every send
would fail into the sweeper.
"""

from __future__ import annotations

import threading
import uuid

from core.broker import queue_length, queue_purge
from core.tasks import task_send


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
