"""Events to websockets (core/events.py): the caller hands them over and goes on; they reach the sockets in the order
they were handed over (a job's `running` never arrives after its `succeeded`)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from core.events import _LayerLoop, user_event_send, user_group

pytestmark = pytest.mark.django_db(transaction=True)  # events go once the surrounding transaction commits

EVENTS = 200


def test_events_sent_one_after_another_reach_a_socket_in_that_order():
    assert asyncio.run(_received_in_order()) == list(range(EVENTS))


async def _received_in_order() -> list[int]:
    layer = get_channel_layer()
    user_id = uuid.uuid4().int % 10**9  # a group of its own
    channel = await layer.new_channel()
    await layer.group_add(user_group(user_id), channel)
    try:

        def send_all() -> None:  # as requests and tasks do: outside a transaction the event goes at once
            for number in range(EVENTS):
                user_event_send(user_id, "job.updated", "job", {"number": number})

        await sync_to_async(send_all)()
        received = []
        for _ in range(EVENTS):
            message = await asyncio.wait_for(layer.receive(channel), timeout=10)
            received.append(message["job"]["number"])
    finally:
        await layer.group_discard(user_group(user_id), channel)
    return received


def test_a_step_that_must_follow_its_event_runs_once_the_event_is_sent():
    """A job's task goes to a worker only once its "queued" event is out: the worker's "running", sent by another
    process, cannot reach the socket first. The sender is held up here (its loop busy for half a second)."""

    async def scenario() -> list[bool]:
        layer = get_channel_layer()
        user_id = uuid.uuid4().int % 10**9
        channel = await layer.new_channel()
        await layer.group_add(user_group(user_id), channel)
        try:

            def event_already_there() -> bool:  # run by the step: is the event in the socket's channel yet?
                async def receive() -> bool:
                    try:
                        return (await asyncio.wait_for(layer.receive(channel), timeout=0.1))["type"] == "job.updated"
                    except TimeoutError:
                        return False

                return asyncio.run(receive())

            def submit() -> None:
                _LayerLoop.get().call_soon_threadsafe(time.sleep, 0.5)  # the sender's loop is busy meanwhile
                user_event_send(user_id, "job.updated", "job", {}, then=lambda: seen.append(event_already_there()))

            seen: list[bool] = []
            await sync_to_async(submit)()
            return seen
        finally:
            await layer.group_discard(user_group(user_id), channel)

    assert asyncio.run(scenario()) == [True]
