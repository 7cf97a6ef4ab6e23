"""The served application's request handler (core/request_handler.py): the middleware chain and the view in one call
on the request's thread, and a waiting view's event awaited on the event loop, after that call.

Through `odiadev.asgi.application`, as Daphne calls it. The hand-offs between the event loop and a request's thread
are counted on asgiref's two adapters: Django's own ASGI handler made about ten per API request."""

from __future__ import annotations

import asyncio
import gc
import json
from contextlib import contextmanager

import pytest
from asgiref.sync import AsyncToSync, SyncToAsync

from billing.services import plan_assign
from odiadev.asgi import application
from synthesis.models import SynthesisJob
from tests.core.test_request_threads import _call, _scope
from tests.synthesis.test_wait_events import BODY, _fail, _later

pytestmark = pytest.mark.django_db(transaction=True)

# request_started's receivers, the chain with the view, the response's close (request_finished's receivers).
HAND_OFFS_PER_REQUEST = 3


@contextmanager
def hand_offs():
    """Counts calls into a request's thread (SyncToAsync) and back onto the event loop (AsyncToSync)."""
    counts = {"to_thread": 0, "to_loop": 0}
    to_thread, to_loop = SyncToAsync.__call__, AsyncToSync.__call__

    async def counted_to_thread(self, *args, **kwargs):
        counts["to_thread"] += 1
        return await to_thread(self, *args, **kwargs)

    def counted_to_loop(self, *args, **kwargs):
        counts["to_loop"] += 1
        return to_loop(self, *args, **kwargs)

    SyncToAsync.__call__, AsyncToSync.__call__ = counted_to_thread, counted_to_loop
    try:
        yield counts
    finally:
        SyncToAsync.__call__, AsyncToSync.__call__ = to_thread, to_loop


def _post_scope(path: str, secret: str, body: dict) -> tuple[dict, bytes]:
    data = json.dumps(body).encode()
    scope = _scope(
        path,
        [
            (b"authorization", f"Bearer {secret}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ],
    )
    return {**scope, "method": "POST"}, data


def test_an_api_read_crosses_to_its_thread_once_for_the_whole_chain_and_view(issued_key):
    auth = [(b"authorization", f"Bearer {issued_key.secret}".encode())]
    asyncio.run(_call(application, _scope("/v1/voices", auth)))  # the first request sets up what is kept

    with hand_offs() as counts:
        answer = asyncio.run(_call(application, _scope("/v1/voices", auth)))

    assert answer["status"] == 200, answer["body"][:300]
    assert json.loads(answer["body"])["voices"]
    assert counts == {"to_thread": HAND_OFFS_PER_REQUEST, "to_loop": 0}


def test_a_waiting_request_is_answered_after_the_event_with_the_chains_headers_holding_no_thread(
    user, issued_key, settings
):
    settings.SPEECH_ENGINE_QUEUES = {**settings.SPEECH_ENGINE_QUEUES, "piper": "test-handler-nobody-listens"}
    settings.TTS_WAIT_CHECK_SECONDS = 60  # only the event can wake it before the timeout
    settings.TTS_WAIT_TIMEOUT = 20
    plan_assign(user=user, slug="pro")
    scope, data = _post_scope("/v1/tts", issued_key.secret, BODY)
    pool = _later(1.0, _fail)

    with hand_offs() as counts:
        answer = asyncio.run(_call(application, scope, data))
    pool.shutdown()

    assert answer["status"] == 200, answer["body"][:300]
    job = json.loads(answer["body"])
    assert job["id"] == str(SynthesisJob.objects.get().id)
    assert (job["status"], job["error"]["code"]) == ("failed", "engine_error")
    # the headers the middleware chain put on the deferred answer are on the final one, and its length
    assert answer["headers"]["x-frame-options"] == "DENY"
    assert "content-security-policy" in answer["headers"]
    assert int(answer["headers"]["content-length"]) == len(answer["body"])
    # the wait was on the event loop: nothing blocked a thread to run it there
    assert counts["to_loop"] == 0


def test_an_error_in_the_chain_is_still_the_apis_error_body(issued_key):
    answer = asyncio.run(
        _call(application, _scope("/v1/tts/00000000-0000-4000-8000-000000000000", [(b"authorization", b"Bearer nope")]))
    )

    assert answer["status"] == 401
    assert json.loads(answer["body"])["error"]["code"]


def test_what_start_up_made_is_kept_out_of_the_collectors_full_passes():
    # odiadev.asgi (imported above, as Daphne imports it) froze the objects start-up made: Django, the apps, the URL
    # map. A full collection then walks only what requests made since, not all of them.
    assert gc.get_freeze_count() > 50_000
