"""WSGI entry point (management and plain-HTTP hosting only; websockets need the ASGI app)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odiadev.settings.base")
application = get_wsgi_application()
