"""Blocking: IP addresses and ranges (every request and websocket refused) and accounts (deactivated, keys revoked,
sessions and sockets closed), each with who did it and why.

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

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.services import api_key_revoke
from core.events import user_event_send

from .clientip import ip_normalize
from .models import IpBlock, UserBlock, ip_network_normalize

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
    global _snapshot
    snapshot = _snapshot
    if snapshot is None or time.monotonic() - snapshot.loaded_at >= BLOCKLIST_CACHE_SECONDS:
        with _lock:
            snapshot = _snapshot
            if snapshot is None or time.monotonic() - snapshot.loaded_at >= BLOCKLIST_CACHE_SECONDS:
                snapshot = _snapshot = _load()
    return snapshot


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


# ------------------------------------------------------------------------------------------------------------
# Accounts
# ------------------------------------------------------------------------------------------------------------
def _sessions_delete_for(user: User) -> int:
    """Delete the user's sessions. Database sessions hold the user id only inside their encoded data, so each live
    session is decoded; a deactivated user is refused by the auth middleware anyway, this just ends it at once."""
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        logger.warning("sessions of %s not deleted: %s is not searchable", user, settings.SESSION_ENGINE)
        return 0
    doomed = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get("_auth_user_id") == str(user.pk)
    ]
    Session.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def user_block(*, user: User, reason: str, by: User | None = None) -> UserBlock:
    """Block an account: deactivate it, revoke every API key, end its sessions and close its open websockets.

    Keys stay revoked after `user_unblock`: the customer issues new ones.
    """
    if not (reason or "").strip():
        raise ValidationError("Say why the account is blocked.", code="reason_required")
    if by is not None and by.pk == user.pk:
        raise ValidationError("You cannot block your own account.", code="self_block")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        keys = list(user.api_keys.filter(revoked_at__isnull=True).values_list("pk", flat=True))
        for key_id in keys:
            api_key_revoke(user=user, key_id=key_id)
        block = UserBlock.objects.create(
            user=user,
            reason=reason.strip(),
            blocked_by=by,
            keys_revoked=len(keys),
            sessions_deleted=_sessions_delete_for(user),
        )
        # Each open socket of the user closes itself on this message (UserEventsConsumer.account_blocked).
        user_event_send(user.pk, "account.blocked", "detail", {"reason": "account_blocked"})
    logger.warning("user %s blocked by %s: %s", user, by or "system", reason)
    return block


def user_unblock(*, user: User, reason: str, by: User | None = None) -> int:
    """Reactivate a blocked account; returns how many blocks were lifted. Revoked keys stay revoked."""
    now = timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).update(is_active=True)
        user.is_active = True
        lifted = UserBlock.objects.filter(user=user, lifted_at__isnull=True).update(
            lifted_at=now, lifted_by=by, lift_reason=(reason or "").strip()
        )
    logger.warning("user %s unblocked by %s: %s", user, by or "system", reason)
    return lifted
