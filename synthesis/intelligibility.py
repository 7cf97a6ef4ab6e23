"""Intelligibility of synthesized speech: the word error rate of a job's stored output, as the platform's speech
recogniser (core.recognition) hears it, against the text the engine spoke.

Which jobs: every cloned-voice job that ran an engine, and a share of built-in-voice jobs
(INTELLIGIBILITY_BUILTIN_SHARE) picked by a hash of the job id, so the same job is always in or out. Cache hits are
never scored: their audio is their source's, scored (or not) once.

When: after the job has succeeded, by its own task on the `default` queue (`synthesis.score_intelligibility`), so
the customer's audio is never held back by it and a GPU worker's thread never waits on a CPU recogniser. What is
heard is the stored file, as delivered (format, bitrate and watermark included).

Against what: the job's spoken text (after pronunciations and normalisation: "Dr." was said "Doctor", so hearing
"doctor" is right), without Dia's speaker tags and, for cloned voices, its nonverbals ("(laughs)" is a laugh, not
a word). Both sides go through textnorm's word normalisation (`words_of`: digits and number words compare equal).

Long outputs: only the first INTELLIGIBILITY_MAX_SECONDS are heard. Then the last word heard is dropped (the cut
may fall inside it) and the transcript is compared with the beginning of the text that matches it best: the
prefix of the reference with the fewest edits to the words heard (ties: the longer prefix). The WER is those
edits over that prefix's words.

Scoring never fails a job: any error is logged, and the job keeps `intelligibility_wer` empty with
`intelligibility_scored_at` set (tried), so the task is not repeated. Worker side: imports speech/ (lazily for the
recogniser, through core.recognition).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import uuid

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage

from core.metrics import counter_inc, histogram_observe
from core.recognition import speech_transcribe
from core.tasks import task_send
from textnorm.words import edit_distance, words_of

from .models import JobStatus, SynthesisJob
from .transitions import synthesis_job_intelligibility_record

logger = logging.getLogger(__name__)

SCORE_TASK = "synthesis.score_intelligibility"

# Dia's instructions to itself, not words: speaker tags, and (for cloned voices, which Dia speaks) the nonverbals
# it voices as sounds: "(laughs)", "(clears throat)".
_SPEAKER_TAG = re.compile(r"\[S\d+\]")
_NONVERBAL = re.compile(r"\([a-z][a-z ]{0,24}\)")
# Headerless outputs are read as the encoder wrote them (speech.audio.CONTAINERS).
_RAW_SUBTYPES = {"pcm": ("PCM_16", 2), "ulaw": ("ULAW", 1)}


def intelligibility_sampled(job_id: uuid.UUID | str, share: float) -> bool:
    """Whether a built-in-voice job is in the scored share: the first 8 bytes of SHA-256 of its id, as a fraction
    of 2**64, below `share` (0: none, 1: all). Reproducible, and independent of how ids are made."""
    if share <= 0:
        return False
    if share >= 1:
        return True
    digest = hashlib.sha256(uuid.UUID(str(job_id)).bytes).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def intelligibility_due(job: SynthesisJob) -> bool:
    """Whether a job that just succeeded on an engine gets scored."""
    if job.cached:
        return False
    if job.voice_kind == "cloned":
        return True
    return intelligibility_sampled(job.id, settings.INTELLIGIBILITY_BUILTIN_SHARE)


def intelligibility_enqueue(*, job_id: uuid.UUID | str) -> bool:
    """Send the job's scoring task (after its success is committed). A lost message is sent again by the sweeper
    (cloned jobs; a sampled built-in job just goes unscored)."""
    return task_send(
        SCORE_TASK,
        args=[str(job_id)],
        queue="default",
        failure=f"could not enqueue the intelligibility score of job {job_id}",
        logger=logger,
    )


def reference_words(text: str, *, cloned: bool) -> list[str]:
    """The words the engine was asked to say, normalised as the recogniser's words will be."""
    text = _SPEAKER_TAG.sub(" ", text)
    if cloned:
        text = _NONVERBAL.sub(" ", text)
    return words_of(text)


def prefix_word_error_rate(reference: list[str], heard: list[str]) -> tuple[float, int]:
    """WER of `heard` against the prefix of `reference` it matches best (fewest edits; ties: the longer prefix),
    and that prefix's length in words. For a transcript of the beginning of an output."""
    if not reference:
        return (0.0 if not heard else 1.0), 0
    # Only prefixes up to 2 * len(heard) + 1 words can win: a longer one needs more than len(heard) deletions,
    # more than the empty prefix costs.
    limit = min(len(reference), 2 * len(heard) + 1)
    previous = list(range(len(heard) + 1))  # row i = 0: the empty prefix against heard[:j]
    best_edits, best_length = previous[-1], 0
    for i in range(1, limit + 1):
        current = [i]
        for j, word in enumerate(heard, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (reference[i - 1] != word)))
        if current[-1] <= best_edits:
            best_edits, best_length = current[-1], i
        previous = current
    if best_length == 0:
        return 1.0, 0
    return best_edits / best_length, best_length


def output_decode(data: bytes, *, fmt: str, sample_rate: int, max_seconds: float) -> tuple[np.ndarray, int, bool]:
    """Decode a job's stored output: (mono float32 samples, rate, truncated), at most `max_seconds` of it."""
    if fmt in _RAW_SUBTYPES:
        import soundfile as sf  # lazy: an audio library, for the worker only

        subtype, width = _RAW_SUBTYPES[fmt]
        frames = int(max_seconds * sample_rate)
        samples, _ = sf.read(
            io.BytesIO(data),
            frames=frames,
            dtype="float32",
            format="RAW",
            subtype=subtype,
            samplerate=sample_rate,
            channels=1,
            endian="LITTLE",
        )
        return samples, sample_rate, len(data) // width > frames
    from speech.audio_input import decode  # lazy: speech/ is the worker's

    decoded = decode(data, max_seconds=max_seconds)
    return decoded.samples, decoded.sample_rate, decoded.truncated


def wer_of(*, reference: list[str], heard_text: str, truncated: bool) -> float:
    """The output's WER, at most 1.0: against the whole reference, or (truncated) its best-matching beginning.

    Capped because on noise or reversed speech Whisper can write far more words than were said (measured: up to
    31x, bench/measured/intelligibility_2core.json); past 1.0 a WER says nothing more, and one such output would
    swamp the panel's mean."""
    heard = words_of(heard_text)
    if truncated:
        wer = prefix_word_error_rate(reference, heard[:-1])[0]
    elif not reference:
        wer = 0.0 if not heard else 1.0
    else:
        wer = edit_distance(reference, heard) / len(reference)
    return min(wer, 1.0)


def synthesis_job_intelligibility_score(*, job_id: uuid.UUID | str) -> str:
    """Score one job's output (see the module docstring); returns what happened. Safe to call twice: a job scored
    (or tried) once is left as it is."""
    job = SynthesisJob.objects.filter(pk=job_id).first()
    if job is None:
        return "gone"
    if job.intelligibility_scored_at is not None:
        return "skipped"
    if job.status != JobStatus.SUCCEEDED or job.cached or not job.audio:
        return "not scored"
    cloned = job.voice_kind == "cloned"
    try:
        with default_storage.open(job.audio.name) as f:
            data = f.read()
        samples, rate, truncated = output_decode(
            data, fmt=job.output_format, sample_rate=job.sample_rate, max_seconds=settings.INTELLIGIBILITY_MAX_SECONDS
        )
        transcript = speech_transcribe(samples, rate)
        wer = wer_of(
            reference=reference_words(job.spoken_text or job.text, cloned=cloned),
            heard_text=transcript.text,
            truncated=truncated,
        )
    except Exception:
        logger.exception("could not score the intelligibility of job %s; it keeps no WER", job.id)
        synthesis_job_intelligibility_record(job_id=job.id, wer=None, heard="", model="", seconds=None)
        return "failed"
    recorded = synthesis_job_intelligibility_record(
        job_id=job.id,
        wer=round(wer, 4),
        heard=transcript.text,
        model=f"{transcript.model_id} {transcript.model_revision}".strip(),
        seconds=round(len(samples) / rate, 3),
    )
    if not recorded:
        return "skipped"
    histogram_observe("odiadev_intelligibility_wer", wer, {"voice_kind": job.voice_kind})
    if cloned:
        _clone_results_count(job.clone_similarity, wer)
    logger.info("job %s: WER %.3f over %.1f s heard%s", job.id, wer, len(samples) / rate, " (cut)" * truncated)
    return "scored"


def _clone_results_count(similarity: float | None, wer: float) -> None:
    """The two parts of a clone's success, and the success (see ops.kpis): counted once the WER is known."""
    # (an output whose similarity could not be measured does not fail on it, as before intelligibility counted)
    sounds_like = similarity is None or similarity >= settings.CLONE_SUCCESS_THRESHOLD
    understood = wer <= settings.INTELLIGIBILITY_WER_THRESHOLD
    if similarity is not None:
        counter_inc("odiadev_clone_checks", {"check": "similarity", "outcome": "pass" if sounds_like else "fail"})
    counter_inc("odiadev_clone_checks", {"check": "intelligibility", "outcome": "pass" if understood else "fail"})
    counter_inc("odiadev_clone_results", {"outcome": "success" if sounds_like and understood else "failure"})
