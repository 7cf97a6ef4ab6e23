"""What is on the Celery broker (Redis): queue lengths, and which task messages are waiting or reserved.

Celery's Redis transport (kombu) keeps a queue's messages in a Redis list named after the queue, one more list per
priority step (`<queue>\\x06\\x16<step>`, step 0 being the bare name), and every message a worker has taken but not
acknowledged in the hash `unacked` (delivery tag -> [message, exchange, routing key]), with the time it was taken
in the sorted set `unacked_index`. Our tasks are acknowledged late (after they ran), so a message stays in
`unacked` while its worker holds it; a worker killed outright leaves its entries there until the visibility timeout
puts them back on the queue.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from kombu.transport.redis import PRIORITY_STEPS, Channel

logger = logging.getLogger(__name__)

_SCAN_CHUNK = 1000


@functools.cache
def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def broker_client():
    """A Redis client of the broker (shared by this process)."""
    return _client(settings.CELERY_BROKER_URL)


def _option(name: str, default):
    return settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(name, default)


def _key(name: str) -> str:
    return _option("global_keyprefix", Channel.global_keyprefix) + name


def queue_keys(queue: str) -> list[str]:
    """The Redis lists holding `queue`'s waiting messages, one per priority step."""
    separator = _option("sep", Channel.sep)
    return [
        _key(queue if step == 0 else f"{queue}{separator}{step}") for step in _option("priority_steps", PRIORITY_STEPS)
    ]


def queue_length(queue: str, client=None) -> int:
    """Messages waiting in `queue` (every priority list added up)."""
    pipe = (client or broker_client()).pipeline(transaction=False)
    for key in queue_keys(queue):
        pipe.llen(key)
    return sum(pipe.execute())


def queue_purge(queue: str, client=None) -> int:
    """Empty `queue` (every priority list, in one transaction, as kombu's own purge does); the messages dropped."""
    pipe = (client or broker_client()).pipeline(transaction=True)
    for key in queue_keys(queue):
        pipe.llen(key).delete(key)
    return sum(pipe.execute()[::2])


@dataclass
class TaskArgsOnBroker:
    """The first argument of each message of one task found on the broker."""

    waiting: set[str] = field(default_factory=set)  # in a queue's lists
    reserved: dict[str, float] = field(default_factory=dict)  # taken by a worker, not acknowledged: arg -> since
    messages: int = 0  # messages of the task read (duplicates included)


def task_args_on_broker(task: str, *, queues: Iterable[str], client=None) -> TaskArgsOnBroker:
    """Read every message of `task` waiting in `queues` or reserved by any worker, and return their first arguments.

    The lists are read before the reserved hash: a message moving meanwhile goes from a list to the hash (a worker
    taking it), so it is seen at least once; one that a worker is between taking and recording (microseconds) can
    be missed. Costs one pass over the queues (in chunks, never one huge reply) and the reserved messages."""
    client = client or broker_client()
    found = TaskArgsOnBroker()
    for queue in queues:
        for key in queue_keys(queue):
            start = 0
            while chunk := client.lrange(key, start, start + _SCAN_CHUNK - 1):
                for raw in chunk:
                    arg = _first_arg(raw, task)
                    if arg is not None:
                        found.waiting.add(arg)
                        found.messages += 1
                start += _SCAN_CHUNK
    taken_at = dict(client.zrange(_key(Channel.unacked_index_key), 0, -1, withscores=True))
    for tag, entry in client.hscan_iter(_key(Channel.unacked_key), count=_SCAN_CHUNK):
        try:
            message = json.loads(entry)[0]
        except (ValueError, TypeError, IndexError):
            continue
        arg = _first_arg(message, task)
        if arg is not None:
            since = taken_at.get(tag, time.time())
            found.reserved[arg] = min(since, found.reserved.get(arg, since))
            found.messages += 1
    return found


def _first_arg(raw, task: str) -> str | None:
    """The first positional argument of a Celery (protocol 2) message of `task`, or None for any other message."""
    try:
        message = raw if isinstance(raw, dict) else json.loads(raw)
        if message.get("headers", {}).get("task") != task:
            return None
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return str(args[0]) if args else None
    except (ValueError, TypeError, KeyError, IndexError):
        logger.warning("unreadable %s message on the broker", task, exc_info=True)
        return None
