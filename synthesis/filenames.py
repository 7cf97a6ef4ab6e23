"""The file name a job's audio is downloaded under: one rule for the dashboard and the API.

`odiadev-<date of the job, UTC>-<the first words of its text>.<extension>`, e.g.
`odiadev-2026-11-30-on-monday-the-committee.mp3`. ASCII only, so every client and every `Content-Disposition`
parser takes it as it is; a text with no Latin letters or digits (emoji, another script) is named by the job's id.
"""

from __future__ import annotations

from datetime import UTC

from django.utils.text import slugify

from .formats import OUTPUT_FORMATS
from .models import SynthesisJob

FILENAME_PREFIX = "odiadev"
FILENAME_WORDS = 4
FILENAME_SLUG_MAX = 40


def text_slug(text: str) -> str:
    """The first FILENAME_WORDS words of `text` as a lowercase ASCII slug of at most FILENAME_SLUG_MAX characters
    (accents dropped: "Café" -> "cafe"); empty when nothing Latin is left."""
    words = [word for word in (slugify(part) for part in text.split()) if word][:FILENAME_WORDS]
    slug = "-".join(words)[:FILENAME_SLUG_MAX].strip("-")
    return slug


def job_audio_filename(job: SynthesisJob) -> str:
    """The download name of `job`'s audio."""
    day = job.created_at.astimezone(UTC).date().isoformat()
    slug = text_slug(job.text) or str(job.id)[:8]
    return f"{FILENAME_PREFIX}-{day}-{slug}.{OUTPUT_FORMATS[job.output_format].extension}"
