"""The client's IP address, for HTTP requests and websocket scopes alike.

By default the client is the peer of the connection (REMOTE_ADDR, the ASGI scope's `client`): X-Forwarded-For is
ignored, because any client can send one. Behind N reverse proxies (TRUSTED_PROXY_COUNT = N) each proxy appends the
address it received the connection from, so the client is the N-th entry from the right; entries further left
were written by the client and prove nothing. Do not also run Daphne with --proxy-headers: that rewrites the peer
address from the same header and the proxies would be counted twice.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def ip_normalize(value: str | None) -> str | None:
    """Canonical text of an address (`::ffff:1.2.3.4` becomes `1.2.3.4`), or None if it is not one."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def client_ip_from(*, peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str | None:
    """The client address given the connection's peer and its X-Forwarded-For header."""
    if trusted_proxies > 0 and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if hops:
            # Fewer entries than proxies: the request skipped a proxy; the leftmost is the best we know.
            candidate = ip_normalize(hops[-trusted_proxies] if len(hops) >= trusted_proxies else hops[0])
            if candidate:
                return candidate
    return ip_normalize(peer)


def client_ip(request) -> str | None:
    return client_ip_from(
        peer=request.META.get("REMOTE_ADDR"),
        forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR"),
        trusted_proxies=settings.TRUSTED_PROXY_COUNT,
    )


def client_ip_from_scope(scope) -> str | None:
    client = scope.get("client") or (None, None)
    # Several X-Forwarded-For headers are one list, in order (RFC 9110 field combination).
    forwarded = ", ".join(
        value.decode("latin-1") for key, value in scope.get("headers", []) if key.lower() == b"x-forwarded-for"
    )
    return client_ip_from(peer=client[0], forwarded_for=forwarded, trusted_proxies=settings.TRUSTED_PROXY_COUNT)
