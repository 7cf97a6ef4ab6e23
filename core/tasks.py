"""Sending Celery tasks by name, with the failure handling written once.

The web tier never imports task modules (they pull in the engines): it sends a task by its name. Sending can fail
(Redis away, the broker refusing): the row a task works on is its outbox, so a message that could not be sent is
logged and left to that app's sweeper, and a caller that waits for a task's answer gets its own "unavailable" error.
Tasks go through `celery.current_app`, the project's app in every thread (`odiadev/celery.py` makes it the default):
the apps below the project never import `odiadev`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from celery import current_app as app
from django.db import transaction

_logger = logging.getLogger(__name__)


def task_send(
    name: str,
    *,
    args: Sequence[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    queue: str | None = None,
    countdown: float | None = None,
    failure: str,
    logger: logging.Logger | None = None,
) -> bool:
    """Send the task `name` now; True when the broker took it.

    A failure is logged as `failure` with its traceback (on `logger`: pass the caller's own, so the line reads as
    before) and returns False; nothing is raised, the sweeper sends it again. Call only once the rows the task
    reads are committed, or use `task_send_on_commit`.
    """
    options = {"queue": queue} if queue is not None else {}
    try:
        # Nobody reads its result: without `ignore_result` Celery's Redis result backend subscribes to the task's
        # result channel on every send (two more round trips on the submit path) and unsubscribes again.
        app.send_task(name, args=args, kwargs=kwargs, countdown=countdown, ignore_result=True, **options)
    except Exception:
        (logger or _logger).exception(failure)
        return False
    return True


def task_send_on_commit(name: str, **options: Any) -> None:
    """`task_send(name, **options)` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(partial(task_send, name, **options))


def task_call(
    name: str,
    *,
    kwargs: dict[str, Any],
    timeout: float,
    failure: str,
    error: Callable[[], Exception],
    logger: logging.Logger | None = None,
) -> Any:
    """Send the task `name` and wait up to `timeout` seconds for its return value.

    Any failure (the broker, no worker answering in time, the task raising) is logged as `failure` with its
    traceback (on `logger`) and raised as `error()`, chained. The result is dropped from the result backend once
    read: nobody else ever reads it.
    """
    result = None
    try:
        result = app.send_task(name, kwargs=kwargs)
        return result.get(timeout=timeout, propagate=True)
    except Exception as exc:
        (logger or _logger).exception(failure)
        raise error() from exc
    finally:
        if result is not None:
            with contextlib.suppress(Exception):
                result.forget()
