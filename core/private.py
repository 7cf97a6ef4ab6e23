"""Operational endpoints only our scrapers may read: `/metrics` and the detailed `/health`.

A request is let in with `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time; an empty token lets no
one in this way) or from a client address (`core.clientip`, so behind TRUSTED_PROXY_COUNT proxies the address they
saw) inside one of the METRICS_ALLOWED_IPS networks. Anyone else gets the same 404 as a path that does not exist,
so the endpoints give nothing away, not even that they are there. `/health/live` is not private: it says only
`{"status": "ok"}`.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache, wraps

from django.conf import settings
from django.http import Http404

from .clientip import client_ip


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def _bearer_token(request) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def scraper_allowed(request) -> bool:
    """Whether the request may read the private operational endpoints."""
    token = settings.METRICS_TOKEN
    if token and hmac.compare_digest(_bearer_token(request).encode(), token.encode()):
        return True
    address = client_ip(request)
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


def private_endpoint(view):
    """The view, answered only for `scraper_allowed` requests (404, as for an unknown path, otherwise)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not scraper_allowed(request):
            raise Http404()
        return view(request, *args, **kwargs)

    return wrapped
