"""Responses that wait for an event without holding a thread.

A sync view (DRF's are) runs in a thread; if it waited there for a job to finish it would hold that thread and its
database connection for seconds. Instead the view returns a `DeferredResponse`: what to await (an event, in async
code) and how to answer afterwards. `DeferredResponseMiddleware`, async and outside every sync middleware, gives the
request's database connections back, awaits the event on the event loop, then builds the real answer in the
request's thread (typically one database read) and sends it with the headers the middleware chain put on the
deferred one (security headers, rate-limit figures, cookies).

Served by `odiadev.asgi`, the request handler (`core.request_handler`) runs the whole middleware chain and the view
in one call on the request's thread and awaits a `DeferredResponse` itself, after that call: its chain is built
without this middleware (`handler_awaits_deferred`). Under Django's own handlers (the test clients) the middleware
awaits it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from asgiref.sync import markcoroutinefunction, sync_to_async
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponse
from django.http.response import HttpResponseBase

from .db import connections_release

logger = logging.getLogger(__name__)


class DeferredResponse(HttpResponse):
    """Returned by a view: `wait()` is awaited (it may end early or time out: `finish` decides what that means),
    then `finish()` (sync) builds the response that is sent."""

    def __init__(self, *, wait: Callable[[], Awaitable[None]], finish: Callable[[], HttpResponseBase]) -> None:
        super().__init__(status=202)
        self.wait = wait
        self.finish = finish


def deferred_api_response(view, request, *, wait: Callable[[], Awaitable[None]], respond: Callable[[], object]):
    """A `DeferredResponse` for a DRF view: `respond()` returns the view's response (a DRF `Response` or a plain
    one) or raises an API error; either is finalized and rendered the way the view's own answer would be."""

    def finish() -> HttpResponseBase:
        try:
            response = respond()
        except Exception as exc:  # handle_exception re-raises what is not an API error
            response = view.handle_exception(exc)
        response = view.finalize_response(request, response)
        if hasattr(response, "render"):
            response.render()
        return response

    return DeferredResponse(wait=wait, finish=finish)


def _finish(deferred: DeferredResponse) -> HttpResponseBase:
    response = deferred.finish()
    for header, value in deferred.headers.items():
        if header.lower() not in ("content-type", "content-length") and header not in response:
            response[header] = value
    for name, morsel in deferred.cookies.items():
        response.cookies.setdefault(name, morsel)
    if not response.streaming and "Content-Length" not in response:  # as CommonMiddleware sets on other answers
        response["Content-Length"] = str(len(response.content))
    return response


async def deferred_resolve(request, response: DeferredResponse) -> HttpResponseBase:
    """Give the request's database connections back, await the deferred response's event on this event loop, then
    build the real answer in the request's thread (module docstring)."""
    await sync_to_async(connections_release)()
    try:
        await response.wait()
    except Exception:  # the answer is built from the database either way; it may say "still running"
        logger.warning("waiting for %s failed; answering from the database", request.path, exc_info=True)
    return await sync_to_async(_finish)(response)


_handler_awaits = ContextVar("handler_awaits_deferred", default=False)


@contextmanager
def handler_awaits_deferred() -> Iterator[None]:
    """While a request handler builds its middleware chain: it awaits deferred responses itself, so the chain is
    built without `DeferredResponseMiddleware`."""
    token = _handler_awaits.set(True)
    try:
        yield
    finally:
        _handler_awaits.reset(token)


class DeferredResponseMiddleware:
    """Awaits a view's `DeferredResponse` on the event loop (see the module doc). Async only, and above every sync
    middleware in MIDDLEWARE, so that nothing below it keeps a thread busy during the wait."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response) -> None:
        if _handler_awaits.get():
            raise MiddlewareNotUsed("the request handler awaits deferred responses itself")
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        response = await self.get_response(request)
        if not isinstance(response, DeferredResponse):
            return response
        return await deferred_resolve(request, response)
