"""One-off events between processes ("job 123 is final"): published by whoever made them happen, awaited in async
code by any number of waiters, holding no thread.

Redis pub/sub carries the event; a marker key that lives `MARKER_SECONDS` covers a waiter that subscribes just after
the publish. A publish lost while Redis was away is covered by the waiter's `check` (typically one database read),
run every `check_every` seconds without news, and every second while Redis cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from django.conf import settings

logger = logging.getLogger(__name__)

MARKER_SECONDS = 300


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


async def event_wait(topic: str, *, timeout: float, check: Callable[[], Awaitable[bool]], check_every: float) -> bool:
    """True as soon as `topic` is published (or was, less than MARKER_SECONDS ago) or `check()` says it happened;
    False after `timeout` seconds."""
    import redis.asyncio as aioredis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    deadline = time.monotonic() + timeout
    client = aioredis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()
    try:
        try:
            await pubsub.subscribe(_key(topic))
            if await client.exists(_key(topic)):
                return True
            next_check = time.monotonic() + check_every
            while (now := time.monotonic()) < deadline:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=max(0.0, min(deadline, next_check) - now)
                )
                if message is not None:
                    return True
                if time.monotonic() >= next_check:
                    if await check():
                        return True
                    next_check = time.monotonic() + check_every
            return False
        except (RedisConnectionError, RedisTimeoutError, OSError):
            logger.warning("event %s: Redis unreachable, checking every second instead", topic)
        while time.monotonic() < deadline:  # degraded: Redis is away
            if await check():
                return True
            await asyncio.sleep(max(0.0, min(1.0, deadline - time.monotonic())))
        return False
    finally:
        try:
            await pubsub.aclose()
            await client.aclose()
        except Exception:  # closing a connection to a Redis that went away
            logger.debug("closing the event connection failed", exc_info=True)
