"""Flags an address that asks for many consent challenges or makes many voice profiles in a day."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from controls.abuse import Subject, abuse_flag_raise
from controls.models import AbuseFlag, AbuseFlagKind, AbuseSubject

from .models import ConsentChallenge, ConsentRecord


def consent_activity_check(*, ip: str | None, now: datetime | None = None) -> list[AbuseFlag]:
    """Flag an address that asked for too many consent challenges, or made too many voice profiles, in 24 h."""
    if not ip:
        return []
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    subject = Subject(AbuseSubject.IP, ip)
    window = now.strftime("%Y%m%d")
    flags = []
    challenges = ConsentChallenge.objects.filter(ip_address=ip, created_at__gt=since).count()
    if challenges > settings.ABUSE_CONSENT_ATTEMPTS_PER_DAY:
        flags.append(
            abuse_flag_raise(
                kind=AbuseFlagKind.CONSENT_ATTEMPTS,
                subject=subject,
                window=window,
                evidence={"challenges_24h": challenges, "limit": settings.ABUSE_CONSENT_ATTEMPTS_PER_DAY},
            )
        )
    profiles = ConsentRecord.objects.filter(ip_address=ip, created_at__gt=since)
    if (count := profiles.count()) > settings.ABUSE_PROFILES_PER_IP:
        flags.append(
            abuse_flag_raise(
                kind=AbuseFlagKind.PROFILES_PER_IP,
                subject=subject,
                window=window,
                evidence={
                    "profiles_24h": count,
                    "limit": settings.ABUSE_PROFILES_PER_IP,
                    "accounts": sorted(set(profiles.values_list("user_email", flat=True)))[:20],
                },
            )
        )
    return [flag for flag in flags if flag is not None]
