"""Celery tasks for voices; imported by workers only."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="voices.validate_recordings", ignore_result=False, acks_late=True, time_limit=120)
def recordings_validate_task(*, consent_name: str, sample_name: str) -> dict:
    from .runner import recordings_check

    return recordings_check(consent_name=consent_name, sample_name=sample_name)


@shared_task(
    name="voices.verify_profile",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=3,
    time_limit=300,
)
def voice_profile_verify_task(profile_id: str) -> str:
    from .runner import voice_profile_verify

    return voice_profile_verify(profile_id=profile_id)


@shared_task(name="voices.sweep_verifications", acks_late=True)
def voice_verifications_sweep_task() -> int:
    from .services import voice_verifications_sweep

    return voice_verifications_sweep()
