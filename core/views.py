"""Error pages (JSON under /v1/, HTML elsewhere) and the site's icon."""

from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.views import defaults

from .exceptions import json_not_found, json_server_error


def not_found(request, exception=None):
    if request.path.startswith("/v1/"):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/v1/"):
        return json_server_error(request)
    return defaults.server_error(request)


def favicon(request):
    """`/favicon.ico`, which browsers ask for on pages that name no icon (the admin's): the site's icon."""
    return HttpResponseRedirect(static("favicon.svg"))
