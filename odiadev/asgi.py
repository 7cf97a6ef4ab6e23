"""ASGI entry point served by Daphne: Django for HTTP, Channels consumers for websockets."""

import gc
import os

import django
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odiadev.settings.base")
# Django must be set up before anything imports models.
django.setup(set_prefix=False)

from core.request_handler import SyncChainASGIHandler  # noqa: E402

# Django's ASGI handler, with the middleware chain and the view in one call on the request's thread.
django_asgi_app = SyncChainASGIHandler()

from odiadev import transport  # noqa: E402

# Daphne imports this module before it serves: the body cap and the access-log redaction are in place from its first
# request, however Daphne was started (odiadev/transport.py).
transport.install()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from accounts.websocket_auth import WebsocketAuthMiddleware  # noqa: E402
from controls.middleware import IpBlocklistAsgiMiddleware  # noqa: E402
from core.consumers import UnknownPathConsumer  # noqa: E402
from odiadev.request_threads import RequestThreads  # noqa: E402
from synthesis.consumers import UserEventsConsumer  # noqa: E402
from synthesis.live_consumer import LiveTtsConsumer  # noqa: E402

websocket_urlpatterns = [
    path("ws/jobs/", UserEventsConsumer.as_asgi()),
    path("ws/tts/", LiveTtsConsumer.as_asgi()),
    re_path(r"", UnknownPathConsumer.as_asgi()),
]

application = ProtocolTypeRouter(
    {
        # Each request's sync code on a kept thread with its kept database connection (odiadev/request_threads.py).
        "http": RequestThreads(django_asgi_app, keep=settings.WEB_REQUEST_THREADS),
        # The blocklist first: a blocked address is refused before any session or key lookup.
        "websocket": IpBlocklistAsgiMiddleware(WebsocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)

# What start-up made (Django, the apps, the URL map: ~200,000 objects) lives as long as the process: moved out of the
# collector's full passes, which walked all of it and paused a request for up to ~200 ms (docs/benchmarks.md).
gc.collect()
gc.freeze()
