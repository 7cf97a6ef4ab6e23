"""Worker side of text-in streaming: a closed live job's pieces joined, in order, into its own stored file.

Only worker processes import this module (through tasks): it decodes and encodes audio with `speech/`.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import StorageKind
from billing.storage import storage_record
from speech.audio import decode_output, encode, stitch_offsets
from speech.engines.base import PcmChunk

from .events import job_event_send, job_webhook_emit
from .models import JobStatus, SynthesisJob, audio_upload_to
from .transitions import _storage_ref, synthesis_job_audio_expire

logger = logging.getLogger(__name__)


def live_job_assemble(*, job_id: uuid.UUID | str) -> str:
    """Join the made pieces of the closed live job `job_id` into its file and finish it; returns what happened.

    "waiting" while a piece is not final (the sweeper sends the assembly again). Idempotent: the file's name is the
    job's own, and the job is finished by one conditional UPDATE from running, so a second run changes nothing.
    Finished as succeeded with the audio of the pieces made; with none made, failed with the first failed piece's
    error, else cancelled (nothing was said). Its text and characters are those of the pieces made, which are what
    the ledger billed (through the pieces)."""
    job = SynthesisJob.objects.select_related("user").filter(pk=job_id, live=True).first()
    if job is None or job.is_final:
        return "skipped"
    if job.live_closed_at is None:
        return "open"
    pieces = list(SynthesisJob.objects.filter(parent=job).order_by("piece"))
    if any(not piece.is_final for piece in pieces):
        return "waiting"
    made = [piece for piece in pieces if piece.status == JobStatus.SUCCEEDED and piece.audio]
    if not made:
        failed = next((piece for piece in pieces if piece.status == JobStatus.FAILED), None)
        return _finish_empty(job, failed)
    chunks = []
    for piece in made:
        with default_storage.open(piece.audio.name, "rb") as stored:
            samples = decode_output(stored.read(), job.output_format, sample_rate=job.sample_rate)
        chunks.append(PcmChunk(samples=samples, sample_rate=job.sample_rate))
    # Seams crossfaded as a one-request job's sentences are, so the file sounds as POST /v1/tts would.
    samples, rate, offsets = stitch_offsets(chunks, crossfade_seconds=settings.TTS_CROSSFADE_MS / 1000)
    data = encode(samples, rate, job.output_format, target_rate=job.sample_rate, bitrate=job.bitrate)
    name = audio_upload_to(job, "")
    if default_storage.exists(name):  # an earlier run's (it died before recording it)
        default_storage.delete(name)
    stored_name = default_storage.save(name, ContentFile(data))
    now = timezone.now()
    with transaction.atomic():
        updated = SynthesisJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.SUCCEEDED,
            text=" ".join(piece.text for piece in made),
            spoken_text=" ".join(piece.spoken_text or piece.text for piece in made),
            characters=sum(piece.characters for piece in made),
            audio=stored_name,
            audio_bytes=len(data),
            duration_seconds=len(samples) / rate,
            engine_seconds=sum(piece.engine_seconds or 0.0 for piece in made),
            chunks_total=len(pieces),
            chunks_done=len(made),
            words=_joined_words(made, [offset / rate for offset in offsets]) if job.timestamps else None,
            finished_at=now,
            updated_at=now,
        )
        if not updated:
            return "skipped"
        job.refresh_from_db()
        storage_record(user=job.user, delta=len(data), kind=StorageKind.STORE, ref=_storage_ref(job.pk))
        # The pieces' audio is in the joined file now: the account's storage counts that file alone. Each piece lets
        # its own go as retention would (its bytes off the account, its cache entry dropped) in this transaction.
        released = [
            (name, piece.source_job_id or piece.pk)
            for piece in made
            if (name := synthesis_job_audio_expire(job_id=piece.pk, now=now))
        ]
        job_event_send(job)
        job_webhook_emit(job)
    for name, source_id in released:
        _delete_unless_shared(name, source_id=source_id)
    # (no latency or finish metrics: its pieces are the synthesis and were counted; it lasted as long as its context)
    logger.info("live job %s assembled from %d of %d pieces", job.id, len(made), len(pieces))
    return "succeeded"


def _delete_unless_shared(name: str, *, source_id) -> None:
    """Delete a released piece's file unless a job still points to it: the job that made it (`source_id`: the piece,
    or for a cached piece its source) or a cache hit of it (hits name their source, indexed; only a job that made
    its audio is a cache source). None can start pointing to it once the release committed. A file this misses is
    an orphan the lifecycle policy deletes."""
    if SynthesisJob.objects.filter(Q(pk=source_id) | Q(source_job_id=source_id), audio=name).exists():
        return
    try:
        default_storage.delete(name)
    except Exception:
        logger.warning("could not delete the released piece file %s", name, exc_info=True)


def _joined_words(made: list[SynthesisJob], starts: list[float]) -> list[dict]:
    """The pieces' words on the joined file's timeline: each piece's own, moved to where its audio starts."""
    words: list[dict] = []
    for piece, start in zip(made, starts, strict=True):
        for word in piece.words or []:
            begin = max(round(word["start"] + start, 3), words[-1]["end"] if words else 0.0)
            words.append({"text": word["text"], "start": begin, "end": max(round(word["end"] + start, 3), begin)})
    return words


def _finish_empty(job: SynthesisJob, failed: SynthesisJob | None) -> str:
    now = timezone.now()
    status = JobStatus.FAILED if failed is not None else JobStatus.CANCELLED
    with transaction.atomic():
        updated = SynthesisJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=status,
            error_code=failed.error_code if failed is not None else "",
            error_message=failed.error_message if failed is not None else "",
            finished_at=now,
            updated_at=now,
        )
        if not updated:
            return "skipped"
        job.refresh_from_db()
        job_event_send(job)
        if failed is not None:
            job_webhook_emit(job)
    return status
