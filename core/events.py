"""Events to a user's open websockets, sent after the transaction that caused them commits."""

from __future__ import annotations

import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """The channel-layer group of every websocket the user has open."""
    return f"user.{user_id}"


def api_key_group(key_id) -> str:
    """The channel-layer group of every websocket authenticated by one API key (closed when it is revoked)."""
    return f"api_key.{key_id}"


def _send(group: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception:  # a lost event must not undo or fail the state change; clients can always GET the object
        logger.warning("could not send %s to %s", message.get("type"), group, exc_info=True)


def user_event_send(user_id: int, event_type: str, key: str, payload: dict) -> None:
    """Send `{"type": event_type, key: payload}` to the user's sockets once the current transaction commits."""
    transaction.on_commit(partial(_send, user_group(user_id), {"type": event_type, key: payload}))


def api_key_event_send(key_id, event_type: str, key: str, payload: dict) -> None:
    """Send `{"type": event_type, key: payload}` to the sockets opened with this API key once the transaction
    commits."""
    transaction.on_commit(partial(_send, api_key_group(key_id), {"type": event_type, key: payload}))
