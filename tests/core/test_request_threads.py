"""Kept request threads (odiadev/request_threads.py): a request's sync code runs on one thread of its own, and the next
request reuses that thread and its database connection instead of starting a thread and connecting again."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from core.db import connections_release
from odiadev.asgi import application
from odiadev.request_threads import RequestThreads


def _scope(path: str = "/", headers: list | None = None) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def _call(app, scope: dict, body: bytes = b"") -> dict:
    sent: list[dict] = []
    bodies = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # the client stays connected: nothing more arrives

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return {
        "status": sent[0]["status"],
        "headers": {name.decode().lower(): value.decode() for name, value in sent[0].get("headers", [])},
        "body": b"".join(m.get("body", b"") for m in sent[1:]),
    }


class ThreadRecorder:
    """An ASGI app with two sync steps per request (like a sync middleware and a sync view), recording their threads;
    while `gate` is set, each request waits on it between the steps (like a request awaiting an event)."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, int]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, scope, receive, send):
        first = await sync_to_async(threading.get_ident)()
        if self.gate is not None:
            await self.gate.wait()
        second = await sync_to_async(threading.get_ident)()
        self.requests.append((first, second))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_sequential_requests_reuse_one_thread_and_keep_each_request_on_one_thread():
    recorder = ThreadRecorder()
    app = RequestThreads(recorder, keep=4)

    async def run():
        for _ in range(5):
            assert (await _call(app, _scope()))["status"] == 200

    asyncio.run(run())
    assert all(first == second for first, second in recorder.requests)  # one request, one thread
    assert len({first for first, _ in recorder.requests}) == 1  # the next request, the same thread
    assert recorder.requests[0][0] != threading.get_ident()  # never the event loop's thread
    assert app.started == 1


def test_requests_in_flight_never_share_a_thread_and_only_keep_idle_threads_stay():
    recorder = ThreadRecorder()
    app = RequestThreads(recorder, keep=1)

    async def run():
        recorder.gate = asyncio.Event()
        calls = [asyncio.create_task(_call(app, _scope())) for _ in range(3)]
        while len(app.idle) or app.started < 3:  # all three borrowed their executor
            await asyncio.sleep(0.01)
        recorder.gate.set()
        return await asyncio.gather(*calls)

    answers = asyncio.run(run())
    assert [a["status"] for a in answers] == [200, 200, 200]
    assert len({first for first, _ in recorder.requests}) == 3  # three requests in flight, three threads
    assert all(first == second for first, second in recorder.requests)
    assert app.started == 3
    assert len(app.idle) == 1
    # The two executors beyond `keep` were stopped: their threads end.
    deadline = time.monotonic() + 5
    live = {t.ident for t in threading.enumerate()}
    while deadline > time.monotonic() and len(live & {first for first, _ in recorder.requests}) > 1:
        time.sleep(0.05)
        live = {t.ident for t in threading.enumerate()}
    assert len(live & {first for first, _ in recorder.requests}) == 1


def test_websockets_pass_through_untouched():
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["type"])

    app = RequestThreads(inner, keep=2)
    asyncio.run(app({"type": "websocket", "path": "/ws/jobs/"}, None, None))
    assert seen == ["websocket"]
    assert app.started == 0


@pytest.mark.django_db(transaction=True)
def test_the_served_application_keeps_the_thread_and_its_database_connection(issued_key):
    """Through the real application (Django's ASGI handler, every middleware, an authenticated API read): the second
    request runs on the first one's thread; with SQLite it reuses that thread's open connection, with PostgreSQL the
    connection went back to the pool at the request's end (the pool, not the thread, keeps it)."""
    http = application.application_mapping["http"]
    assert isinstance(http, RequestThreads)
    auth = [(b"authorization", f"Bearer {issued_key.secret}".encode())]

    def thread_connection():
        return threading.get_ident(), connection.connection

    async def run():
        seen = []
        for _ in range(2):
            answer = await _call(http, _scope("/v1/voices", auth))
            assert answer["status"] == 200, answer["body"][:300]
            executor = http.idle[-1]  # the executor that request used, given back
            seen.append(await asyncio.wrap_future(executor.submit(thread_connection)))
        return seen

    (thread1, conn1), (thread2, conn2) = asyncio.run(run())
    assert thread1 == thread2
    if connection.vendor == "sqlite":
        assert conn1 is not None
        assert conn1 is conn2
    else:
        assert conn1 is None
        assert conn2 is None


@pytest.mark.django_db(transaction=True)
def test_a_waiting_request_gives_back_its_postgresql_connection_and_keeps_sqlites():
    """While a request awaits an event (core/deferred.py) its PostgreSQL connection goes back (to the pool, or
    closed: a burst of waiting requests must not hold the server's slots); SQLite's, kept with its thread, stays open
    for the answer instead of opening the file again."""
    connection.ensure_connection()
    before = connection.connection
    connections_release()
    if connection.vendor == "sqlite":
        assert connection.connection is before
    else:
        assert connection.connection is None
