"""One-off events between processes ("job 123 is final"): published by whoever made them happen, awaited in async
code by any number of waiters, holding no thread.

Redis pub/sub carries the event, heard by one listener per event loop for all its waiters; a marker key that lives
`MARKER_SECONDS` covers a waiter that registers just after the publish. A publish lost while Redis was away is
covered by the waiter's `check` (typically one database read), run every `check_every` seconds without news, and
every second while Redis cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable

from django.conf import settings

logger = logging.getLogger(__name__)

MARKER_SECONDS = 300
MARKER_CONNECTIONS = 4  # per event loop
LISTENER_CONNECT_SECONDS = 2.0  # a wait gives the listener this long to subscribe, then checks instead


def _key(topic: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:event:{topic}"


def event_publish(topic: str) -> bool:
    """Announce `topic` to its waiters (sync; call after the change is committed). False if Redis is unreachable:
    the waiters' `check` finds the change instead."""
    from django_redis import get_redis_connection

    try:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        pipe.set(_key(topic), b"1", ex=MARKER_SECONDS)
        pipe.publish(_key(topic), b"1")
        pipe.execute()
    except Exception:  # the event is an optimisation of the waiters' check; never fail the change for it
        logger.warning("could not publish event %s", topic, exc_info=True)
        return False
    return True


def listener_name() -> str:
    """The Redis client name of this process's listener connections."""
    return f"odiadev-events-{os.getpid()}"


class _Listener:
    """An event loop's one pub/sub connection, subscribed to every topic (a pattern), and one connection pool for the
    marker reads, shared by all its waiters: a wait opens no connection of its own (each used to open two and close
    them, a connect and a handshake per waiting request). Every process then hears every event, a few bytes each.
    When the connection fails, every waiter is told (its future gets False) and falls back to its checks; the next
    wait starts a new listener."""

    def __init__(self) -> None:
        import redis.asyncio as aioredis

        # Marker reads borrow from a few connections (a burst of new waiters queues for them, up to 5 s). Named,
        # so that Redis's CLIENT LIST says whose they are.
        self.client = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                settings.REDIS_URL, max_connections=MARKER_CONNECTIONS, timeout=5, client_name=listener_name()
            )
        )
        self.pubsub = self.client.pubsub()
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[bool] = loop.create_future()  # True once subscribed; False if it could not
        self.waiters: dict[bytes, set[asyncio.Future[bool]]] = {}
        self.alive = True
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            await self.pubsub.psubscribe(_key("*"))
            while True:
                message = await self.pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "psubscribe" and not self.ready.done():
                    self.ready.set_result(True)
                elif message["type"] == "pmessage":
                    for future in self.waiters.get(message["channel"], ()):
                        if not future.done():
                            future.set_result(True)
        except Exception as exc:
            logger.warning("event listener: Redis unreachable (%s); waiters check instead", exc)
        finally:
            self.alive = False
            if not self.ready.done():
                self.ready.set_result(False)
            for futures in self.waiters.values():
                for future in futures:
                    if not future.done():
                        future.set_result(False)
            try:
                await self.pubsub.aclose()
                await self.client.aclose()
            except Exception:  # closing a connection to a Redis that went away
                logger.debug("closing the event listener failed", exc_info=True)

    def register(self, topic: str) -> asyncio.Future[bool]:
        future = asyncio.get_running_loop().create_future()
        if not self.alive:
            future.set_result(False)
        self.waiters.setdefault(_key(topic).encode(), set()).add(future)
        return future

    def forget(self, topic: str, future: asyncio.Future[bool]) -> None:
        futures = self.waiters.get(_key(topic).encode(), set())
        futures.discard(future)
        if not futures:
            self.waiters.pop(_key(topic).encode(), None)


_listeners: dict[asyncio.AbstractEventLoop, _Listener] = {}  # a server has one loop; tests start one per test


async def _listener(timeout: float) -> _Listener | None:
    """This loop's listener once it is subscribed; None if Redis cannot be reached within `timeout` seconds."""
    loop = asyncio.get_running_loop()
    for closed in [other for other in _listeners if other.is_closed()]:
        del _listeners[closed]
    listener = _listeners.get(loop)
    if listener is None or not listener.alive:
        listener = _listeners[loop] = _Listener()
    try:
        subscribed = await asyncio.wait_for(asyncio.shield(listener.ready), timeout=max(0.01, timeout))
    except TimeoutError:
        return None
    return listener if subscribed else None


async def event_wait(topic: str, *, timeout: float, check: Callable[[], Awaitable[bool]], check_every: float) -> bool:
    """True as soon as `topic` is published (or was, less than MARKER_SECONDS ago) or `check()` says it happened;
    False after `timeout` seconds."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    deadline = time.monotonic() + timeout
    listener = await _listener(timeout=min(timeout, LISTENER_CONNECT_SECONDS))
    if listener is not None:
        # Registered (and the listener subscribed) before the marker is read: an event published from here on
        # reaches the future, one published before left its marker.
        future = listener.register(topic)
        try:
            if await listener.client.exists(_key(topic)):
                return True
            next_check = time.monotonic() + check_every
            while (now := time.monotonic()) < deadline:
                try:
                    heard = await asyncio.wait_for(asyncio.shield(future), timeout=min(deadline, next_check) - now)
                except TimeoutError:
                    if await check():
                        return True
                    next_check = time.monotonic() + check_every
                    continue
                if heard:
                    return True
                break  # the listener lost Redis: check instead
            else:
                return False
        except (RedisConnectionError, RedisTimeoutError, OSError):
            pass
        finally:
            listener.forget(topic, future)
    logger.warning("event %s: Redis unreachable, checking every second instead", topic)
    while time.monotonic() < deadline:  # degraded: Redis is away
        if await check():
            return True
        await asyncio.sleep(max(0.0, min(1.0, deadline - time.monotonic())))
    return False
