"""Synthesis jobs. The row is the source of truth for a job's state, and the outbox its task is sent from."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from core.models import TimestampedModel


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


def audio_upload_to(instance: "SynthesisJob", filename: str) -> str:
    # The name derives from the job id alone, so a job that runs twice writes the same file, never a second one.
    return f"audio/{instance.id}.{instance.output_format}"


class SynthesisJob(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="synthesis_jobs")
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="synthesis_jobs"
    )
    # What the customer sent (Unicode NFC, whitespace collapsed): shown in history and billed by its length.
    text = models.TextField()
    # What the engine reads: `text` after the account's pronunciations and English normalisation. Empty on jobs
    # created before normalisation existed (they were read as `text`).
    spoken_text = models.TextField(blank=True)
    characters = models.PositiveIntegerField()
    voice_id = models.CharField(max_length=100)
    voice_kind = models.CharField(max_length=16, default="builtin", help_text="builtin or cloned")
    voice_version = models.PositiveIntegerField(default=1)
    engine = models.CharField(max_length=32)
    engine_voice = models.CharField(max_length=100)
    model_id = models.CharField(max_length=200)
    model_revision = models.CharField(max_length=100)
    output_format = models.CharField(max_length=8)
    sample_rate = models.PositiveIntegerField()
    bitrate = models.PositiveIntegerField(null=True, blank=True, help_text="kbps, mp3 only (constant bitrate).")
    speed = models.FloatField(default=1.0)
    seed = models.BigIntegerField(null=True, blank=True)
    watermark = models.BooleanField(default=False)
    cache_key = models.CharField(max_length=64, db_index=True)
    cached = models.BooleanField(default=False)
    source_job = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cache_hits",
        help_text="For a cache hit: the job whose audio this job reuses.",
    )

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, help_text="hostname:pid of the process running it.")

    audio = models.FileField(upload_to=audio_upload_to, max_length=255, blank=True)
    audio_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    # Set when the lifecycle policy deleted the audio after the plan's retention: the row stays (history,
    # billing) with `audio` cleared, and the audio URL answers 410 `audio_expired`.
    audio_expired_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    engine_seconds = models.FloatField(null=True, blank=True)
    streamed = models.BooleanField(default=False, help_text="Its audio is also streamed while it is made.")
    # Word timestamps (synthesis/timestamps.py), when the request asked for them (`timestamps`). `word_spans`, set
    # at submit: the words of `text` as sent, each with the spoken words that say it ([text, first, end], indices
    # into `spoken_text.split()`). `spoken_word_times`, set with the audio: [start, end] seconds per spoken word
    # (what a cache hit of the same audio reuses). `words`: the public [{"text", "start", "end"}] built from both.
    timestamps = models.BooleanField(default=False, help_text="Word timestamps were asked for.")
    word_spans = models.JSONField(null=True, blank=True)
    spoken_word_times = models.JSONField(null=True, blank=True)
    words = models.JSONField(null=True, blank=True, help_text="[{text, start, end}] in seconds of the audio.")
    chunks_total = models.PositiveIntegerField(default=0, help_text="Segments of a long text (0 until it runs).")
    chunks_done = models.PositiveIntegerField(default=0, help_text="Segments synthesized so far.")
    clone_similarity = models.FloatField(
        null=True, blank=True, help_text="Cloned voices: speaker similarity of the output to the voice."
    )
    # Intelligibility (synthesis/intelligibility.py): every cloned job and a share of built-in ones, scored after
    # they succeed. `intelligibility_scored_at` set with no WER: scoring was tried and failed (logged).
    intelligibility_wer = models.FloatField(
        null=True, blank=True, help_text="Word error rate of the output, as the recogniser heard it, against its text."
    )
    intelligibility_transcript = models.TextField(blank=True, help_text="What the recogniser heard.")
    intelligibility_model = models.CharField(max_length=200, blank=True, help_text="Recogniser model and revision.")
    intelligibility_seconds = models.FloatField(null=True, blank=True, help_text="Seconds of the output heard.")
    intelligibility_scored_at = models.DateTimeField(null=True, blank=True)
    # Batching engines (Dia on a GPU worker): how many requests shared the job's largest batch, and how long its
    # first segment waited in the worker's batch scheduler. Empty for engines that do not batch.
    batch_size = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Requests decoded together in this job's largest batch."
    )
    batch_wait_seconds = models.FloatField(
        null=True, blank=True, help_text="Seconds the job waited in the worker's batch scheduler."
    )

    # Text-in streaming (synthesis/live.py, /ws/tts/): a context's job is `live` and runs no task of its own; each
    # sentence is a piece, a job of its own with `parent` set and its order in `piece`, synthesized, billed,
    # retried and swept like any job, and hidden from listings. Closing the context (`live_closed_at`) has the
    # pieces' audio assembled, in order, into the live job's file.
    live = models.BooleanField(default=False, help_text="A websocket context's job, assembled from its pieces.")
    live_closed_at = models.DateTimeField(null=True, blank=True, help_text="When its context ended.")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="pieces", help_text="Its live job."
    )
    piece = models.PositiveIntegerField(null=True, blank=True, help_text="Its order in its live job, from 0.")

    queued_at = models.DateTimeField()
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When the task message was last sent.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="job_user_created"),
            # A new job counts its account's jobs in progress (the plan's job slots) under the account's lock, and a
            # listing counts the account's jobs (not a live job's pieces): both from this index alone, not by reading
            # every job the account ever made.
            models.Index(fields=["user", "parent", "status"], name="job_user_parent_status"),
            models.Index(fields=["status", "queued_at"], name="job_status_queued"),
            models.Index(fields=["status"], condition=Q(live=True), name="job_live_status"),
            # The ops KPIs (latency, throughput, errors) read every job finished in a window.
            models.Index(fields=["finished_at"], name="job_finished"),
            # The clone KPIs and the sweeper read cloned jobs by finish time; the rollups find late scores.
            models.Index(fields=["finished_at"], condition=Q(voice_kind="cloned"), name="job_cloned_finished"),
            models.Index(
                fields=["intelligibility_scored_at"],
                condition=Q(intelligibility_scored_at__isnull=False),
                name="job_intelligibility_scored",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(speed__gte=0.5, speed__lte=2.0), name="job_speed_range"),
            # A succeeded job has its audio, unless the audio expired (then it has none).
            models.CheckConstraint(
                condition=~Q(status=JobStatus.SUCCEEDED) | ~Q(audio="") | Q(audio_expired_at__isnull=False),
                name="job_succeeded_has_audio_unless_expired",
            ),
            models.CheckConstraint(
                condition=Q(audio_expired_at__isnull=True) | Q(audio=""), name="job_expired_audio_is_gone"
            ),
            models.CheckConstraint(
                condition=~Q(status=JobStatus.FAILED) | ~Q(error_code=""), name="job_failed_has_error_code"
            ),
            models.CheckConstraint(
                condition=Q(bitrate__isnull=True) | Q(output_format="mp3"), name="job_bitrate_only_for_mp3"
            ),
            models.UniqueConstraint(
                fields=["parent", "piece"], condition=Q(parent__isnull=False), name="job_piece_unique_in_parent"
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True, piece__isnull=True) | Q(parent__isnull=False, piece__isnull=False),
                name="job_piece_has_parent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def audio_expired(self) -> bool:
        return self.audio_expired_at is not None

    @property
    def latency_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.queued_at).total_seconds()


class Pronunciation(TimestampedModel):
    """One entry of an account's pronunciation dictionary: `word` is said as `replacement` in that account's jobs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pronunciations")
    word = models.CharField(max_length=100, help_text="Literal text to find (not a pattern).")
    replacement = models.CharField(max_length=200, help_text="What to say instead, spoken exactly as written.")
    case_sensitive = models.BooleanField(default=False)
    whole_word = models.BooleanField(default=True, help_text="Match only where no letter or digit adjoins it.")

    class Meta:
        ordering = ["word"]
        constraints = [
            # Regardless of case: "odiadev" beside "ODIADEV" would match the same text and never apply.
            models.UniqueConstraint(Lower("word"), "user", name="pronunciation_unique_word_any_case"),
            models.CheckConstraint(condition=~Q(word=""), name="pronunciation_word_not_empty"),
            models.CheckConstraint(condition=~Q(replacement=""), name="pronunciation_replacement_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.word} -> {self.replacement}"


class IdempotencyKey(TimestampedModel):
    """A client's `Idempotency-Key` on a job-creating request (synthesis/idempotency.py): the same key and request
    from the same account within the key's lifetime answer with `job` instead of creating (and billing) another.

    The row is inserted first in the transaction that creates the job and bound to the job before it commits, so a
    committed row always has its job; parallel requests with one key meet at the unique constraint."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the endpoint and the request body.")
    job = models.ForeignKey(SynthesisJob, null=True, on_delete=models.CASCADE, related_name="idempotency_keys")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.key} -> {self.job_id}"
