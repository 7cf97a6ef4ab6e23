"""core.notify: waits share one listener per event loop; a listener that loses Redis hands its waiters to their
checks, and the next wait listens again."""

from __future__ import annotations

import asyncio
import time

from asgiref.sync import sync_to_async
from django_redis import get_redis_connection

from core.notify import event_publish, event_wait, listener_name
from tests.support.sockets import own_redis_clients


async def _always() -> bool:
    return True


async def _never() -> bool:
    return False


def _kill_listeners() -> int:
    return get_redis_connection("default").client_kill_filter(_type="pubsub")


def test_a_waiter_whose_listener_loses_redis_checks_instead_and_the_next_wait_listens_again():
    async def scenario():
        # given a waiter whose check would say yes, but only runs once a minute while the listener is up
        started = time.monotonic()
        first = asyncio.create_task(event_wait("notify-test-first", timeout=20, check=_always, check_every=60))
        await asyncio.sleep(0.5)
        assert not first.done()

        # when the listener's connection is killed, the waiter checks at once instead of waiting for the minute
        assert await sync_to_async(_kill_listeners)() >= 1
        assert await first is True
        took = time.monotonic() - started

        # and a later wait listens on a new connection: it hears the publish (its check never says yes)
        second = asyncio.create_task(event_wait("notify-test-second", timeout=20, check=_never, check_every=60))
        await asyncio.sleep(0.5)
        await sync_to_async(event_publish)("notify-test-second")
        return took, await second

    took, heard = asyncio.run(scenario())
    assert took < 5
    assert heard is True


def test_many_waits_on_one_loop_share_one_listener_and_each_hears_only_its_topic():
    def subscribed_connections() -> list[str]:  # this process's names (a live server's listeners run alongside)
        clients = own_redis_clients(get_redis_connection("default").client_list())
        return [client["name"] for client in clients if int(client["psub"])]

    async def scenario():
        before = len(await sync_to_async(subscribed_connections)())
        waiters = {
            n: asyncio.create_task(event_wait(f"notify-test-{n}", timeout=3, check=_never, check_every=60))
            for n in range(10)
        }
        await asyncio.sleep(0.5)
        after = await sync_to_async(subscribed_connections)()
        for n in range(0, 10, 2):
            await sync_to_async(event_publish)(f"notify-test-{n}")
        return before, after, {n: await task for n, task in waiters.items()}

    before, after, results = asyncio.run(scenario())
    assert len(after) - before == 1
    assert listener_name() in after  # (named for its process in CLIENT LIST)
    assert results == {n: n % 2 == 0 for n in range(10)}
