"""Reads for synthesis jobs. Every read is scoped to the owner: another user's job simply does not exist."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from .errors import JobNotFound
from .models import SynthesisJob


def job_list_for(*, user) -> QuerySet[SynthesisJob]:
    return SynthesisJob.objects.filter(user=user).order_by("-created_at", "-id")


def job_get_for(*, user, job_id) -> SynthesisJob:
    try:
        return SynthesisJob.objects.get(user=user, pk=job_id)
    except (SynthesisJob.DoesNotExist, ValidationError) as exc:
        raise JobNotFound() from exc


def job_get(*, job_id) -> SynthesisJob:
    try:
        return SynthesisJob.objects.get(pk=job_id)
    except (SynthesisJob.DoesNotExist, ValidationError) as exc:
        raise JobNotFound() from exc
