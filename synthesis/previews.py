"""Voice previews for the voice library: one short sample sentence per built-in voice, synthesized once by a worker
and kept like any other job's audio.

A preview is an ordinary synthesis job owned by a system account (PREVIEW_ACCOUNT_EMAIL, which cannot log in), so
it takes the whole path real jobs take: the queue, the engine, the plan's watermark, storage and retention. The
newest preview job of a voice (as the voice is now: its version and model revision) answers every later request;
a new one is queued only when there is none, its audio expired with the account's plan retention, or it failed
more than PREVIEW_RETRY_SECONDS ago. The account's one job slot (Free plan) means parallel first requests queue
one job, not several: the others are told to wait."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from core.exceptions import ApplicationError
from voices.selectors import voice_get_for

from .models import JobStatus, SynthesisJob
from .services import synthesis_job_create

logger = logging.getLogger(__name__)

PREVIEW_ACCOUNT_EMAIL = "voice-previews@odiadev.invalid"
PREVIEW_FORMAT = "mp3"
PREVIEW_RETRY_SECONDS = 600


def preview_text(voice_name: str) -> str:
    return f"Hello, I am {voice_name}. This is how I sound when I read your text aloud, clearly and at an even pace."


def _preview_account():
    """The system account that owns previews, made on first use; None if someone else holds its address (an
    account that can log in is never trusted with it)."""
    user, created = get_user_model().objects.get_or_create(email=PREVIEW_ACCOUNT_EMAIL, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif user.is_active or user.has_usable_password():
        logger.error("%s is a customer account, not the preview account: no voice previews", PREVIEW_ACCOUNT_EMAIL)
        return None
    return user


def _still_answers(job: SynthesisJob | None) -> bool:
    if job is None:
        return False
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        return True
    if job.status == JobStatus.SUCCEEDED:
        return bool(job.audio)
    if job.status == JobStatus.FAILED:
        return job.finished_at is not None and timezone.now() - job.finished_at < timedelta(
            seconds=PREVIEW_RETRY_SECONDS
        )
    return False


def voice_preview_job(*, voice_id: str) -> SynthesisJob | None:
    """The job whose audio previews built-in voice `voice_id`, queued now if needed; None while it cannot be queued
    yet (another voice's preview holds the account's job slot). VoiceNotFound for anything but a built-in voice."""
    account = _preview_account()
    if account is None:
        return None
    voice = voice_get_for(user=account, voice_id=voice_id)  # the account owns no cloned voice: built-in ones only
    text = preview_text(voice.name)
    job = (
        SynthesisJob.objects.filter(
            user=account,
            voice_id=voice.id,
            voice_version=voice.version,
            model_revision=voice.model_revision,
            output_format=PREVIEW_FORMAT,
            text=text,
        )
        .order_by("-created_at")
        .first()
    )
    if _still_answers(job):
        return job
    try:
        return synthesis_job_create(user=account, text=text, voice_id=voice.id, output_format=PREVIEW_FORMAT)
    except ApplicationError as exc:  # the job slot is busy, maintenance, the engine switched off...
        logger.info("voice preview of %s not queued now: %s", voice.id, exc.code)
        return job if job is not None and job.status == JobStatus.FAILED else None
