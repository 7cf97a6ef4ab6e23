"""HTTP requests run their synchronous code on kept threads, so a thread and its database connection serve many.

Django's ASGI handler runs each request's synchronous parts (sync middleware, views, the ORM) on one thread for that
request: it enters asgiref's `ThreadSensitiveContext`, and asgiref starts a new single-thread executor for every such
context. Since a database connection belongs to its thread, every request also opened a connection and closed it at
its end: 1.6 ms for SQLite (open the file, the WAL pragma, Django's ~40 SQL functions), more than any query of a
cache hit, plus the thread's start.

`RequestThreads` wraps the HTTP application. Each request borrows an idle single-thread executor (or starts one) and
enters `ThreadSensitiveContext` with it; Django's own context, entered inside, then reuses it. When the response is
done the executor goes back to the idle list, its thread and that thread's connection kept for the next request
(SQLite keeps its connections: `CONN_MAX_AGE` is None there; PostgreSQL's pool takes them back at each request's
end either way). At most `keep` idle executors stay (`WEB_REQUEST_THREADS`); one beyond that closes its thread's
connections and stops. A request never shares its thread with another while it runs, as before: a request that
awaits an event holds its executor but no running thread, and the next request starts another executor.

Websockets keep Channels' own handling (a socket lives for hours; its consumer is not a request).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.db import connections


class RequestThreads:
    """ASGI middleware for the "http" scope: kept executors, one per request in flight (module docstring)."""

    def __init__(self, app, *, keep: int) -> None:
        self.app = app
        self.keep = max(0, keep)
        self.idle: list[ThreadPoolExecutor] = []
        self.started = 0  # executors ever started (tests and the docs' figures read it)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        executor = self._borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                return await self.app(scope, receive, send)
        finally:
            self._give_back(executor)

    def _borrow(self) -> ThreadPoolExecutor:
        if self.idle:
            return self.idle.pop()
        self.started += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def _give_back(self, executor: ThreadPoolExecutor) -> None:
        # Only the event loop's thread calls this: the list needs no lock.
        if len(self.idle) < self.keep:
            self.idle.append(executor)
            return
        executor.submit(connections.close_all)  # its thread's connections, closed on that thread
        executor.shutdown(wait=False)
