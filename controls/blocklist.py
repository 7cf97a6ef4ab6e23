"""The IP blocklist: addresses and ranges whose every request and websocket is refused, with who blocked them and why.

The active blocklist is read by every request, so each process keeps it in memory for at most
`BLOCKLIST_CACHE_SECONDS`: a new block takes effect everywhere within that time, at the cost of one small query per
process per interval, never one per request. Expiry is checked at each lookup, so an expired block stops at once.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.clientip import ip_normalize

from .models import IpBlock, ip_network_normalize

logger = logging.getLogger(__name__)

BLOCKLIST_CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class ActiveBlock:
    id: int
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    reason: str
    expires_at: float | None  # epoch seconds; None is permanent

    def in_force(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class _Snapshot:
    loaded_at: float  # time.monotonic()
    addresses: dict[str, tuple[ActiveBlock, ...]]  # single-address blocks by address text
    ranges: tuple[ActiveBlock, ...]


_snapshot: _Snapshot | None = None
_lock = threading.Lock()


def _load() -> _Snapshot:
    now = timezone.now()
    addresses: dict[str, list[ActiveBlock]] = {}
    ranges: list[ActiveBlock] = []
    rows = IpBlock.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).values_list(
        "id", "network", "reason", "expires_at"
    )
    for block_id, text, reason, expires_at in rows:
        try:
            network = ipaddress.ip_network(text)
        except ValueError:
            logger.error("IP block %s has an invalid network %r; ignored", block_id, text)
            continue
        block = ActiveBlock(block_id, network, reason, expires_at.timestamp() if expires_at else None)
        if network.num_addresses == 1:
            addresses.setdefault(str(network.network_address), []).append(block)
        else:
            ranges.append(block)
    return _Snapshot(
        loaded_at=time.monotonic(),
        addresses={address: tuple(blocks) for address, blocks in addresses.items()},
        ranges=tuple(ranges),
    )


def _current() -> _Snapshot:
    """This process's copy, read again once BLOCKLIST_CACHE_SECONDS old: by one thread, while the others go on with
    the copy they have (nobody waits on `_lock` while holding a database connection: see controls.limits._stored).
    Before the first read, each thread reads for itself."""
    global _snapshot
    snapshot = _snapshot
    if snapshot is not None and time.monotonic() - snapshot.loaded_at < BLOCKLIST_CACHE_SECONDS:
        return snapshot
    if not _lock.acquire(blocking=False):  # another thread is reading it
        return snapshot if snapshot is not None else _load()
    try:
        snapshot = _snapshot
        if snapshot is None or time.monotonic() - snapshot.loaded_at >= BLOCKLIST_CACHE_SECONDS:
            snapshot = _snapshot = _load()
        return snapshot
    finally:
        _lock.release()


def blocklist_cache_clear() -> None:
    """Forget this process's copy of the blocklist (other processes refresh within BLOCKLIST_CACHE_SECONDS)."""
    global _snapshot
    _snapshot = None


def ip_block_find(ip: str | None) -> ActiveBlock | None:
    """The block in force for this client address, if any. Costs no query while the process's copy is fresh."""
    address_text = ip_normalize(ip)
    if address_text is None:
        return None
    snapshot = _current()
    now = time.time()
    for block in snapshot.addresses.get(address_text, ()):
        if block.in_force(now):
            return block
    if snapshot.ranges:
        address = ipaddress.ip_address(address_text)
        for block in snapshot.ranges:
            if block.network.version == address.version and address in block.network and block.in_force(now):
                return block
    return None


def ip_block_create(*, network: str, reason: str, by=None, expires_at: datetime | None = None) -> IpBlock:
    """Block an address or range; blocking one that is blocked already updates its reason and expiry."""
    network = ip_network_normalize(network)
    if not (reason or "").strip():
        raise ValidationError("Say why the address is blocked.", code="reason_required")
    block, created = IpBlock.objects.update_or_create(
        network=network, defaults={"reason": reason.strip(), "expires_at": expires_at}
    )
    if created and by is not None:
        IpBlock.objects.filter(pk=block.pk).update(created_by=by)
        block.created_by = by
    blocklist_cache_clear()
    transaction.on_commit(blocklist_cache_clear)
    logger.warning("IP %s blocked by %s until %s: %s", network, by or "system", expires_at or "forever", reason)
    return block


def ip_block_update(*, block: IpBlock, reason: str, expires_at: datetime | None) -> IpBlock:
    if not (reason or "").strip():
        raise ValidationError("Say why the address is blocked.", code="reason_required")
    block.reason = reason.strip()
    block.expires_at = expires_at
    block.save(update_fields=["reason", "expires_at"])
    blocklist_cache_clear()
    transaction.on_commit(blocklist_cache_clear)
    return block


def ip_block_remove(*, block: IpBlock) -> None:
    network = block.network
    block.delete()
    blocklist_cache_clear()
    transaction.on_commit(blocklist_cache_clear)
    logger.warning("IP block %s removed", network)
