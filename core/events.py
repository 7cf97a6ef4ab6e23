"""Events to a user's open websockets, sent after the transaction that caused them commits."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable
from functools import partial

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """The channel-layer group of every websocket the user has open."""
    return f"user.{user_id}"


def api_key_group(key_id) -> str:
    """The channel-layer group of every websocket authenticated by one API key (closed when it is revoked)."""
    return f"api_key.{key_id}"


# Longer than the layer's own connect timeout and retries against a Redis that is down.
SEND_TIMEOUT_SECONDS = 10.0
# At interpreter exit (a management command, a stopping server), how long events still queued may take to go out.
EXIT_FLUSH_SECONDS = 5.0
# How long a step that must follow its event (`then`) waits for the event to be sent, at most.
ORDER_WAIT_SECONDS = 1.0
# Events waiting to be sent, per process, beyond which new ones are dropped (Redis unreachable for long): memory
# stays bounded, and what was dropped is still there to GET.
MAX_PENDING = 1000


class _LayerLoop:
    """One event loop per process, on a thread of its own, that sends to the channel layer.

    `async_to_sync` from a request's thread ran each send on the server's event loop, queued behind everything else
    that loop serves; where no loop runs (workers, commands) it made and closed a new loop, and with it a new Redis
    connection pool, for every event. This loop lives as long as the process, so the layer keeps its connections.

    Senders do not wait for Redis: an event is handed to the loop and the caller goes on (a request answers, a worker
    starts its engine). The loop sends the events one at a time in the order they were handed over, so a job's
    states reach the sockets in the order they happened. Started on first use; a forked child starts its own."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None
    _pending: set[concurrent.futures.Future] = set()
    # Held for each send, on the loop: asyncio's lock serves its waiters first come, first served, and coroutines
    # handed over with run_coroutine_threadsafe start in the order they were handed over. Made on the loop.
    in_order: asyncio.Lock | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        loop = cls._loop
        if loop is not None:
            return loop
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="channel-layer-sender", daemon=True).start()
                cls._loop = loop
            return cls._loop

    @classmethod
    def submit(cls, group: str, message: dict) -> concurrent.futures.Future | None:
        """Hand one event over: its send, done once sent (or given up); None (dropped) when MAX_PENDING are waiting
        already."""
        loop = cls.get()
        with cls._lock:
            if len(cls._pending) >= MAX_PENDING:
                return None
            future = asyncio.run_coroutine_threadsafe(_send_in_order(group, message), loop)
            cls._pending.add(future)
        future.add_done_callback(cls._done)
        return future

    @classmethod
    def _done(cls, future: concurrent.futures.Future) -> None:
        with cls._lock:
            cls._pending.discard(future)

    @classmethod
    def flush(cls, timeout: float) -> None:
        """Wait up to `timeout` seconds for the events handed over so far to be sent (or given up)."""
        with cls._lock:
            pending = set(cls._pending)
        concurrent.futures.wait(pending, timeout=timeout)

    @classmethod
    def forget(cls) -> None:
        """In a forked child: the parent's thread did not come along, so its loop would never run."""
        cls._loop = None
        cls._lock = threading.Lock()
        cls._pending = set()
        cls.in_order = None


os.register_at_fork(after_in_child=_LayerLoop.forget)
atexit.register(lambda: _LayerLoop.flush(EXIT_FLUSH_SECONDS))


async def _send_in_order(group: str, message: dict) -> None:
    if _LayerLoop.in_order is None:
        _LayerLoop.in_order = asyncio.Lock()
    async with _LayerLoop.in_order:
        try:
            await asyncio.wait_for(get_channel_layer().group_send(group, message), SEND_TIMEOUT_SECONDS)
        except Exception:  # a lost event must not undo or fail the state change; clients can always GET the object
            logger.warning("could not send %s to %s", message.get("type"), group, exc_info=True)


def _send(group: str, message: dict) -> concurrent.futures.Future | None:
    try:
        future = _LayerLoop.submit(group, message)
    except Exception:  # the loop could not take it (interpreter shutting down)
        logger.warning("could not send %s to %s", message.get("type"), group, exc_info=True)
        return None
    if future is None:
        logger.warning("dropped %s to %s: %d events wait to be sent", message.get("type"), group, MAX_PENDING)
    return future


def _send_then(group: str, message: dict, then: Callable[[], object]) -> None:
    future = _send(group, message)
    if future is not None:
        concurrent.futures.wait([future], timeout=ORDER_WAIT_SECONDS)
    then()


def user_event_send(
    user_id: int, event_type: str, key: str, payload: dict, *, then: Callable[[], object] | None = None
) -> None:
    """Send `{"type": event_type, key: payload}` to the user's sockets once the current transaction commits.

    `then`: a step that lets another process announce the same object next (a job's task sent to a worker, which
    announces it running). It runs on commit once this event is sent (or after ORDER_WAIT_SECONDS), so that the
    sockets hear the object's states in the order they happened: each process keeps its own events in order, but
    nothing orders one process's events against another's."""
    message = {"type": event_type, key: payload}
    if then is None:
        transaction.on_commit(partial(_send, user_group(user_id), message))
    else:
        transaction.on_commit(partial(_send_then, user_group(user_id), message, then))


def api_key_event_send(key_id, event_type: str, key: str, payload: dict) -> None:
    """Send `{"type": event_type, key: payload}` to the sockets opened with this API key once the transaction
    commits."""
    transaction.on_commit(partial(_send, api_key_group(key_id), {"type": event_type, key: payload}))
