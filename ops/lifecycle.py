"""The lifecycle policy: what the platform stops keeping, and when.

Run weekly by beat (`ops.lifecycle_policy`) and by operators with `manage.py lifecycle_policy` (a dry run unless
`--apply`). In order:

- `voice_profiles`: cloned voices created more than VOICE_PROFILE_UNUSED_DAYS ago and not used by any job since
  (`VoiceProfile.last_used_at`; a profile from before that column was written gets its last job's time first),
  with their samples. Their consent records stay (audit evidence).
- `audio`: synthesized audio older than the owner's plan's `audio_retention_days`. The job row stays, with its
  audio cleared and `audio_expired_at` set (its audio URL answers 410 `audio_expired`).
- `consent_evidence`: consent recordings older than CONSENT_EVIDENCE_RETENTION_DAYS whose voice no longer exists.
  The consent record stays, with the recording's SHA-256.
- `consent_challenges`: challenges that expired without being used.
- `orphans`: files under the app's own storage prefixes that no row points to and that are older than
  LIFECYCLE_ORPHAN_GRACE_SECONDS (so a file being written, whose row is not committed yet, is never taken).

A file is deleted only after its row has let go of it (committed), and only if, checked right before the delete,
no row at all points to it (`file_references`): a cache hit shares its source job's file, for instance.
"""

from __future__ import annotations

import logging
import posixpath
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Max, Q
from django.utils import timezone

from billing.models import Plan
from billing.plans import DEFAULT_PLAN_SLUG
from synthesis.models import SynthesisJob, audio_upload_to
from synthesis.transitions import synthesis_job_audio_expire
from voices.models import ConsentRecord, VoiceProfile, consent_audio_path, sample_audio_path
from voices.retention import consent_challenges_purge, consent_evidence_release, voice_profile_expire
from voices.selectors import consent_challenges_unused_expired, consent_evidence_expired, voice_profiles_unused
from voices.services import voice_profile_mark_used

from .models import LifecycleReport

logger = logging.getLogger(__name__)

CATEGORIES = ("voice_profiles", "audio", "consent_evidence", "consent_challenges", "orphans")
_BATCH = 500


@dataclass
class CategoryResult:
    items: int = 0  # rows deleted or cleared; for orphans, files
    bytes: int = 0  # bytes of the files deleted
    kept_referenced: int = 0  # files not deleted because a row still points to them


def storage_prefixes() -> list[str]:
    """The folders our upload_to functions write to, derived from the functions themselves."""
    probe = uuid.uuid4()
    names = [
        audio_upload_to(SynthesisJob(id=probe, output_format="wav"), ""),
        sample_audio_path(VoiceProfile(id=probe), "x.wav"),
        consent_audio_path(ConsentRecord(id=probe), "x.wav"),
    ]
    return sorted({posixpath.dirname(name) for name in names})


def file_references(name: str) -> set[tuple[str, str]]:
    """Every row that points to the file `name`, as (kind, primary key)."""
    refs = {("job", str(pk)) for pk in SynthesisJob.objects.filter(audio=name).values_list("pk", flat=True)}
    refs |= {("voice", str(pk)) for pk in VoiceProfile.objects.filter(sample=name).values_list("pk", flat=True)}
    refs |= {
        ("consent", str(pk)) for pk in ConsentRecord.objects.filter(consent_audio=name).values_list("pk", flat=True)
    }
    return refs


def _referenced_names(names: list[str]) -> set[str]:
    return (
        set(SynthesisJob.objects.filter(audio__in=names).values_list("audio", flat=True))
        | set(VoiceProfile.objects.filter(sample__in=names).values_list("sample", flat=True))
        | set(ConsentRecord.objects.filter(consent_audio__in=names).values_list("consent_audio", flat=True))
    )


def _size(name: str) -> int | None:
    """The file's size, or None when there is no such file."""
    return default_storage.size(name) if default_storage.exists(name) else None


def _walk(prefix: str):
    """Every file name under `prefix`, recursively, through the storage API (works for S3 as for folders)."""
    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return
    for file in files:
        yield posixpath.join(prefix, file)
    for directory in directories:
        yield from _walk(posixpath.join(prefix, directory))


def _batches(queryset, fields: tuple[str, ...]):
    """Rows of `queryset` as value tuples (pk first), in pk order, page by page: safe while rows are changed."""
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page.values_list("pk", *fields)[:_BATCH])
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def last_use_backfill(*, older_than) -> int:
    """Give profiles from before `last_used_at` was written (null, created before `older_than`) the time of their
    last job, read from the jobs (ops may read every app): without it an upgrade would take every old voice in use
    for unused. Idempotent (only null values are written); dry runs do it too, since it deletes nothing."""
    never = [
        str(pk)
        for pk in VoiceProfile.objects.filter(created_at__lt=older_than, last_used_at__isnull=True).values_list(
            "pk", flat=True
        )
    ]
    last_jobs = (
        SynthesisJob.objects.filter(voice_kind="cloned", voice_id__in=never)
        .values("voice_id")
        .annotate(last=Max("created_at"))
    )
    for row in last_jobs:
        voice_profile_mark_used(profile_id=row["voice_id"], now=row["last"])
    return len(last_jobs)


class _Run:
    def __init__(self, *, apply: bool, now: datetime) -> None:
        self.apply = apply
        self.now = now
        self.results = {name: CategoryResult() for name in CATEGORIES}
        # Dry run: rows that would have let go of their files by now, and files that would have been deleted.
        self.released: set[tuple[str, str]] = set()
        self.released_consents: set[uuid.UUID] = set()
        self.freed: set[str] = set()

    # -- files ----------------------------------------------------------------------------------------------------
    def file_delete(self, name: str, *, category: str) -> bool:
        """Delete `name` unless a live row points to it (checked here, right before the delete); returns whether
        it was deleted (in a dry run: would have been)."""
        if not name or name in self.freed:
            return False
        if file_references(name) - self.released:
            self.results[category].kept_referenced += 1
            logger.info("lifecycle: kept %s, a row still points to it", name)
            return False
        size = _size(name)
        if size is None:
            return False  # already gone
        if self.apply:
            default_storage.delete(name)
        self.freed.add(name)
        self.results[category].bytes += size
        return True

    def release(self, kind: str, pk, name: str | None, *, category: str) -> None:
        """Count a row that let go of `name` (or would have, in a dry run), then delete the file if it is free."""
        self.results[category].items += 1
        if not self.apply:
            self.released.add((kind, str(pk)))
        if name:
            self.file_delete(name, category=category)

    # -- categories -----------------------------------------------------------------------------------------------
    def voice_profiles(self) -> None:
        since = self.now - timedelta(days=settings.VOICE_PROFILE_UNUSED_DAYS)
        last_use_backfill(older_than=since)
        for pk, sample, consent_id in _batches(voice_profiles_unused(since=since), ("sample", "consent_id")):
            if self.apply:
                name = voice_profile_expire(profile_id=pk, unused_since=since)
                if name is None:
                    continue  # used or deleted meanwhile
            else:
                name = sample
                self.released_consents.add(consent_id)
            self.release("voice", pk, name, category="voice_profiles")

    def audio(self) -> None:
        for plan in Plan.objects.all():
            cutoff = self.now - timedelta(days=plan.audio_retention_days)
            on_plan = Q(user__billing_account__plan=plan)
            if plan.slug == DEFAULT_PLAN_SLUG:
                on_plan |= Q(user__billing_account__isnull=True)  # never assigned a plan: on the default one
            expired = SynthesisJob.objects.filter(
                on_plan, created_at__lt=cutoff, audio_expired_at__isnull=True
            ).exclude(audio="")
            for pk, audio in _batches(expired, ("audio",)):
                name = synthesis_job_audio_expire(job_id=pk, now=self.now) if self.apply else audio
                if name is not None:
                    self.release("job", pk, name, category="audio")

    def consent_evidence(self) -> None:
        before = self.now - timedelta(days=settings.CONSENT_EVIDENCE_RETENTION_DAYS)
        records = consent_evidence_expired(recorded_before=before)
        if not self.apply and self.released_consents:
            # In a dry run the voices counted above still exist; their consent records would be free by now.
            records = (
                ConsentRecord.objects.filter(created_at__lt=before, consent_audio_deleted_at__isnull=True)
                .filter(Q(voice_profile__isnull=True) | Q(pk__in=self.released_consents))
                .exclude(consent_audio="")
            )
        for pk, consent_audio in _batches(records, ("consent_audio",)):
            if self.apply:
                name = consent_evidence_release(record_id=pk, recorded_before=before, now=self.now)
                if name is None:
                    continue
            else:
                name = consent_audio
            self.release("consent", pk, name, category="consent_evidence")

    def consent_challenges(self) -> None:
        if self.apply:
            self.results["consent_challenges"].items += consent_challenges_purge(now=self.now)
        else:
            self.results["consent_challenges"].items += consent_challenges_unused_expired(now=self.now).count()

    def orphans(self) -> None:
        grace = timedelta(seconds=settings.LIFECYCLE_ORPHAN_GRACE_SECONDS)
        for prefix in storage_prefixes():
            names: list[str] = []
            for name in _walk(prefix):
                names.append(name)
                if len(names) >= _BATCH:
                    self._orphans_in(names, grace)
                    names = []
            if names:
                self._orphans_in(names, grace)

    def _orphans_in(self, names: list[str], grace: timedelta) -> None:
        referenced = _referenced_names(names)
        for name in names:
            if name in referenced or name in self.freed:
                continue
            try:
                modified = default_storage.get_modified_time(name)
            except (FileNotFoundError, OSError):
                continue  # deleted meanwhile
            if self.now - modified < grace:
                continue  # perhaps being written now, its row not committed yet
            if self.file_delete(name, category="orphans"):
                self.results["orphans"].items += 1


def lifecycle_policy() -> dict:
    """The limits the policy applies (recorded with each report)."""
    return {
        "voice_profile_unused_days": settings.VOICE_PROFILE_UNUSED_DAYS,
        "consent_evidence_retention_days": settings.CONSENT_EVIDENCE_RETENTION_DAYS,
        "orphan_grace_seconds": settings.LIFECYCLE_ORPHAN_GRACE_SECONDS,
        "audio_retention_days": dict(Plan.objects.values_list("slug", "audio_retention_days")),
    }


def lifecycle_run(*, apply: bool = False, trigger: str = "command", now: datetime | None = None) -> LifecycleReport:
    """Run the lifecycle policy (a dry run unless `apply`) and store its report. Safe to run again at any time:
    every row is re-checked under a lock before it changes, and every file right before it is deleted."""
    now = now or timezone.now()
    report = LifecycleReport.objects.create(
        started_at=timezone.now(), dry_run=not apply, trigger=trigger, policy=lifecycle_policy()
    )
    run = _Run(apply=apply, now=now)
    try:
        for category in CATEGORIES:
            getattr(run, category)()
    except Exception as exc:
        report.error = f"{type(exc).__name__}: {exc}"[:2000]
        logger.exception("lifecycle policy failed")
        raise
    finally:
        report.results = {name: asdict(result) for name, result in run.results.items()}
        report.items_total = sum(result.items for result in run.results.values())
        report.bytes_total = sum(result.bytes for result in run.results.values())
        report.finished_at = timezone.now()
        report.save()
    logger.info(
        "lifecycle policy %s: %s items, %s bytes",
        "applied" if apply else "dry run",
        report.items_total,
        report.bytes_total,
    )
    return report
