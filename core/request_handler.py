"""Django's ASGI handler with one thread hand-off per request: the middleware chain and the view run as one sync call.

Django's own ASGI handler builds an async middleware chain. Every sync-only middleware, and every `MiddlewareMixin`
one (Django's, django-prometheus's: they run their hooks through `sync_to_async` in an async chain), then costs a
hand-off between the event loop and the request's thread and back, and so does the sync view: about ten per request
here, each a few hundred microseconds of both threads' time. Measured on one Daphne process (2-core machine,
`docs/benchmarks.md`): web CPU per `GET /v1/voices` 10.6 -> 6.5 ms, per cache hit 19.1 -> 15.5 ms.

`SyncChainASGIHandler` builds the chain sync and calls it once on the request's thread (a kept one:
odiadev/request_threads.py). A view that waits for an event returns a `DeferredResponse` (core/deferred.py): the
chain, built without `DeferredResponseMiddleware`, passes it up, and this handler awaits it on the event loop,
holding no thread, then builds the answer with the headers the chain put on the deferred one. The middlewares see
the deferred response, not the final one: django-prometheus counts such a request's status as 202 and its latency
without the wait (the job's own metrics have both).
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.utils.log import log_response

from .deferred import DeferredResponse, deferred_resolve, handler_awaits_deferred


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        with handler_awaits_deferred():
            super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        if not isinstance(response, DeferredResponse):
            return response
        final = await deferred_resolve(request, response)
        final._resource_closers.extend(response._resource_closers)  # the request's close, added by get_response
        if final.status_code >= 400:
            await sync_to_async(log_response, thread_sensitive=False)(
                "%s: %s", final.reason_phrase, request.path, response=final, request=request
            )
        return final
