"""What the job socket does with messages it cannot read: an error message, and the socket stays usable."""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from accounts.services import api_key_create
from tests.factories import UserFactory


def test_a_deeply_nested_or_broken_message_gets_an_error_and_the_socket_stays_open(transactional_db):
    from odiadev.asgi import application

    secret = api_key_create(user=UserFactory(), name="ws").secret

    async def run():
        communicator = WebsocketCommunicator(application, f"/ws/jobs/?api_key={secret}")
        communicator.scope["client"] = ("127.0.0.1", 50000)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        assert (await communicator.receive_json_from(timeout=10))["type"] == "hello"
        replies = []
        for text in ("[" * 10_000 + "]" * 10_000, json.dumps({"a": [[[[[[[[]]]]]]]]}) + "x", "{not json"):
            await communicator.send_to(text_data=text)
            replies.append(await communicator.receive_json_from(timeout=10))
        await communicator.send_json_to({"type": "ping"})
        pong = await communicator.receive_json_from(timeout=10)
        await communicator.disconnect()
        return replies, pong

    replies, pong = async_to_sync(run)()

    assert [reply["error"]["code"] for reply in replies] == ["malformed_json"] * 3
    assert pong == {"type": "pong"}
