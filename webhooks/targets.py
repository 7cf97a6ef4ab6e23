"""Where a webhook may go: public HTTPS addresses only, checked after DNS resolution and pinned for the connection.

Server-side request forgery: a customer's URL must not make our workers call our own network (loopback, RFC 1918,
unique-local), link-local addresses (cloud metadata at 169.254.169.254 and fd00:ec2::254), multicast, unspecified
or reserved ranges. Checking the *name* is not enough ("localhost", "127.1", "2130706433", a DNS record pointing
inside, an IPv4-mapped IPv6 address), so every address the host resolves to is checked, and refused if any one is
forbidden. Checking and then letting the HTTP client resolve again would leave a window for DNS rebinding (the
record changes between the check and the connect), so `target_resolve` returns the checked addresses and the caller
connects to one of those IP literals: the original host goes in the `Host` header and in TLS SNI, and the certificate is
verified against the original host name (httpcore's `sni_hostname` request extension sets `server_hostname`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import httpx
from django.conf import settings

from .errors import WebhookUrlForbidden, WebhookUrlInvalid, WebhookUrlUnresolvable

MAX_URL_LENGTH = 2000
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not global, and not `is_private` either


@dataclass(frozen=True)
class Target:
    """A URL whose host resolved to `addresses`, every one of them checked and allowed."""

    url: str
    host: str  # the host as sent in `Host` and SNI (IDNA-encoded)
    host_header: str
    addresses: tuple[str, ...]

    def pinned_url(self, address: str) -> str:
        """The same URL with `address` in place of the host: the HTTP client connects there and nowhere else."""
        return str(httpx.URL(self.url).copy_with(host=address))

    @property
    def sni_hostname(self) -> str | None:
        # An IP literal has no SNI; its certificate is checked against the IP itself.
        return None if _is_ip(self.host) else self.host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), which is where it really goes."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_forbidden_reason(address: str) -> str | None:
    """Why a webhook may not go to `address`, or None if it is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a scope id ("fe80::1%eth0") is link-local anyway
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        return address_forbidden_reason(str(inner))
    for reason, flag in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("shared", ip in _SHARED if ip.version == 4 else False),
        ("not global", not ip.is_global),
    ):
        if flag:
            return reason
    return None


def url_parse(url: str) -> httpx.URL:
    """The URL, if it is well-formed and uses an allowed scheme (https; http too when private targets are allowed)."""
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL_LENGTH:
        raise WebhookUrlInvalid()
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise WebhookUrlInvalid() from exc
    if not parsed.scheme or not parsed.host:
        raise WebhookUrlInvalid()
    allowed = {"https", "http"} if settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS else {"https"}
    if parsed.scheme not in allowed:
        raise WebhookUrlForbidden(
            "Webhook endpoints must use https.", detail={"reason": "scheme", "scheme": parsed.scheme}
        )
    if parsed.userinfo:
        raise WebhookUrlInvalid("Put no user name or password in the URL; verify our signature instead.")
    if parsed.fragment:
        raise WebhookUrlInvalid("A webhook URL has no #fragment.")
    return parsed


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise WebhookUrlUnresolvable(detail={"host": host}) from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise WebhookUrlUnresolvable(detail={"host": host})
    return addresses


def target_resolve(url: str) -> Target:
    """Parse, resolve and check `url`; raises WebhookUrlForbidden (or *Invalid / *Unresolvable) otherwise.

    Called at registration and again before every attempt (the DNS record, or the row, may have changed)."""
    parsed = url_parse(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            if reason := address_forbidden_reason(address):
                raise WebhookUrlForbidden(detail={"reason": reason, "host": host, "address": address})
    return Target(
        url=str(parsed),
        host=host,
        host_header=parsed.netloc.decode("ascii"),
        addresses=tuple(address.split("%", 1)[0] for address in addresses),
    )
