"""Account blocking: deactivate, revoke every key, end sessions and close sockets, with who did it and why."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.events import user_event_send

from .models import User, UserBlock
from .services import api_key_revoke

logger = logging.getLogger(__name__)


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
        # Each open socket of the user closes itself on this message (UserEventsConsumer.account_blocked); sent
        # before the keys' revocations so that a socket learns why (account_blocked, not api_key_revoked).
        user_event_send(user.pk, "account.blocked", "detail", {"reason": "account_blocked"})
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
