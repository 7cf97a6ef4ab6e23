"""The per-account storage quota: what an account keeps in storage, and the refusal of new stored work over it."""

from __future__ import annotations

from django.db.models import Sum
from django.db.models.functions import Coalesce

from .errors import storage_quota_exceeded
from .models import Plan
from .services import account_ensure


def storage_used_for(*, user) -> int:
    """Bytes the account keeps in storage: the audio its jobs made (a cache hit reuses another job's file and
    adds nothing) and its voice samples. Consent recordings are the platform's audit evidence and do not count."""
    from synthesis.models import SynthesisJob
    from voices.models import VoiceProfile

    audio = (
        SynthesisJob.objects.filter(user=user, cached=False)
        .exclude(audio="")
        .aggregate(total=Coalesce(Sum("audio_bytes"), 0))["total"]
    )
    samples = VoiceProfile.objects.filter(user=user).aggregate(total=Coalesce(Sum("sample_bytes"), 0))["total"]
    return int(audio) + int(samples)


def storage_check(*, user, plan: Plan | None = None) -> None:
    """Refuse new stored work (a synthesis that will store audio, a voice upload) when the account is at or over
    its plan's storage quota. Parallel submits may pass together and overshoot by their own size; the quota is a
    soft limit against runaway storage, not a reservation."""
    plan = plan or account_ensure(user=user).plan
    used = storage_used_for(user=user)
    if used >= plan.storage_quota_bytes:
        raise storage_quota_exceeded(used_bytes=used, quota_bytes=plan.storage_quota_bytes, plan=plan)
