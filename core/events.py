"""Events to a user's open websockets, sent after the transaction that caused them commits."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
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


class _LayerLoop:
    """One event loop per process, on a thread of its own, that sends to the channel layer.

    `async_to_sync` from a request's thread ran each send on the server's event loop, queued behind everything else
    that loop serves; where no loop runs (workers, commands) it made and closed a new loop, and with it a new Redis
    connection pool, for every event. This loop lives as long as the process, so the layer keeps its connections
    and a sender waits only for Redis. Started on first use; a forked child starts its own."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None

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
    def forget(cls) -> None:
        """In a forked child: the parent's thread did not come along, so its loop would never run."""
        cls._loop = None
        cls._lock = threading.Lock()


os.register_at_fork(after_in_child=_LayerLoop.forget)


def _send(group: str, message: dict) -> None:
    try:
        sending = asyncio.run_coroutine_threadsafe(get_channel_layer().group_send(group, message), _LayerLoop.get())
        sending.result(timeout=SEND_TIMEOUT_SECONDS)
    except Exception:  # a lost event must not undo or fail the state change; clients can always GET the object
        logger.warning("could not send %s to %s", message.get("type"), group, exc_info=True)


def user_event_send(user_id: int, event_type: str, key: str, payload: dict) -> None:
    """Send `{"type": event_type, key: payload}` to the user's sockets once the current transaction commits."""
    transaction.on_commit(partial(_send, user_group(user_id), {"type": event_type, key: payload}))


def api_key_event_send(key_id, event_type: str, key: str, payload: dict) -> None:
    """Send `{"type": event_type, key: payload}` to the sockets opened with this API key once the transaction
    commits."""
    transaction.on_commit(partial(_send, api_key_group(key_id), {"type": event_type, key: payload}))
