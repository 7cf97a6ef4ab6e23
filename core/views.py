"""Error pages: JSON under /v1/, HTML elsewhere."""

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
