"""Intelligibility scoring of synthesized outputs: the figures INTELLIGIBILITY_WER_THRESHOLD rests on.

Runs the product's scorer (synthesis.intelligibility: decode the stored output, Whisper tiny.en through speech.asr,
WER against the normalised text) on Piper speech (en_US-joe-medium) of typical job texts, each encoded as a job
stores it, and on outputs nobody could understand:
- honest: 32 sentences (numbers, dates, money, times; bench/asr.py's corpus) and 6 paragraphs (an IVR prompt, a
  news item, a lesson, a product page, a reminder with an email address, a story), in wav 22.05 kHz, mp3 at
  32 kbps, Opus at 24 kHz and G.711 mu-law at 8 kHz (telephony: the worst we deliver);
- unintelligible: the same speech reversed, white noise as long as it, another text's speech (the engine said the
  wrong thing), and the second half reversed (half lost);
- long: a text read for ~100 s, heard whole and heard only for its first INTELLIGIBILITY_MAX_SECONDS (the prefix
  match), to check the cut changes the score little.

Measured (the JSON) on two cores shared with three other busy sessions, so its cost figure (1.38 s per audio
second) is load, not the model: bench/asr.py measured 0.093 on quiet cores. Its WERs of the broken cases were
computed before the product capped a WER at 1.0 (Whisper writes up to 31x the words on reversed speech); the
counts over each threshold are the same either way.

    .venv/bin/python bench/intelligibility.py [--json bench/measured/intelligibility_2core.json] [--sentences 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odiadev.settings.base")

import django

django.setup()

from asr import WER_SENTENCES  # noqa: E402

from speech import asr  # noqa: E402
from speech.audio import concatenate, encode  # noqa: E402
from speech.engines.base import SynthesisRequest  # noqa: E402
from synthesis.intelligibility import output_decode, reference_words, wer_of  # noqa: E402
from tests.support.media import _piper  # noqa: E402
from textnorm import normalize  # noqa: E402

PARAGRAPHS = (
    (
        "Thank you for calling Odia Bank. For your account balance, press 1. To report a lost card, press 2. "
        "To speak with an agent, press 0. Our lines are open from 8 am to 6 pm, Monday to Friday."
    ),
    (
        "Heavy rain is expected across Lagos and Ogun states from Thursday evening. The agency advises residents near "
        "the river to move valuables to higher ground and to avoid driving through flooded roads."
    ),
    (
        "In today's lesson we look at fractions. A fraction has two parts: the numerator on top and the denominator "
        "below. When the denominators are equal, add the numerators and keep the denominator."
    ),
    (
        "The new kettle boils 1.7 litres in under 3 minutes. It switches off by itself, has a washable filter, and "
        "comes with a 2 year warranty. Order before Friday for free delivery."
    ),
    (
        "This is a reminder from Dr. Adeyemi's clinic. Your appointment is on the 14th of May at 10:30 am. If you "
        "need to change it, write to bookings@clinic.example.com or call us at least a day before."
    ),
    (
        "The old fisherman pushed his boat into the water before sunrise. The sea was calm, and the only sound was "
        "the creak of the oars. By noon his nets were full, and he turned for home."
    ),
)
FORMATS = {
    "wav 22.05k": ("wav", 22050, None),
    "mp3 32k": ("mp3", 22050, 32),
    "opus 24k": ("ogg", 24000, None),
    "ulaw 8k": ("ulaw", 8000, None),
}


def _speech(text: str) -> tuple[np.ndarray, int]:
    return concatenate(_piper().synthesize(SynthesisRequest(text=normalize(text), voice="en_US-joe-medium")))


def _score(recognizer, samples, rate, spoken: str, fmt=("wav", 22050, None), max_seconds=600.0) -> dict:
    name, target, bitrate = fmt
    data = encode(samples, rate, name, target_rate=target, bitrate=bitrate)
    decoded, decoded_rate, truncated = output_decode(data, fmt=name, sample_rate=target, max_seconds=max_seconds)
    started = time.perf_counter()
    transcript = recognizer.transcribe(decoded, decoded_rate)
    seconds = time.perf_counter() - started
    wer = wer_of(reference=reference_words(spoken, cloned=False), heard_text=transcript.text, truncated=truncated)
    return {
        "wer": round(wer, 4),
        "heard": transcript.text,
        "asr_s": round(seconds, 3),
        "audio_s": len(decoded) / decoded_rate,
    }


def _summary(rows: list[dict]) -> dict:
    wers = sorted(row["wer"] for row in rows)
    return {
        "n": len(wers),
        "mean": round(statistics.fmean(wers), 4),
        "median": round(statistics.median(wers), 4),
        "max": wers[-1],
        "min": wers[0],
        "over": {str(t): sum(w > t for w in wers) for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sentences", type=int, default=len(WER_SENTENCES))
    args = parser.parse_args()
    recognizer = asr.recognizer()
    texts = list(WER_SENTENCES[: args.sentences]) + list(PARAGRAPHS)
    spoken = [normalize(text) for text in texts]
    audio = [_speech(text) for text in texts]
    rows: dict[str, list[dict]] = {}
    for label, fmt in FORMATS.items():
        rows[label] = [
            {"text": text, **_score(recognizer, s, r, sp, fmt)}
            for text, sp, (s, r) in zip(texts, spoken, audio, strict=True)
        ]
        print(label, _summary(rows[label]), flush=True)
    rng = np.random.default_rng(0)
    bad = {
        "reversed": lambda s, r, i: (s[::-1].copy(), r),
        "noise": lambda s, r, i: ((rng.standard_normal(len(s)) * 0.1).astype(np.float32), r),
        "another text": lambda s, r, i: audio[(i + 1) % len(audio)],
        "second half reversed": lambda s, r, i: (np.concatenate([s[: len(s) // 2], s[len(s) // 2 :][::-1]]), r),
    }
    for label, make in bad.items():
        rows[label] = []
        for index, (text, sp, (s, r)) in enumerate(zip(texts, spoken, audio, strict=True)):
            samples, rate = make(s, r, index)
            rows[label].append({"text": text, **_score(recognizer, samples, rate, sp)})
        print(label, _summary(rows[label]), flush=True)
    long_text = " ".join(PARAGRAPHS)
    long_samples, long_rate = _speech(long_text)
    whole = _score(recognizer, long_samples, long_rate, normalize(long_text))
    cut = _score(recognizer, long_samples, long_rate, normalize(long_text), max_seconds=60.0)
    print("long", whole["audio_s"], whole["wer"], "cut at 60 s:", cut["wer"], flush=True)
    honest = [row for label in FORMATS for row in rows[label]]
    cost = [row["asr_s"] / row["audio_s"] for row in honest]
    result = {
        "machine": {"cpu_cores": os.cpu_count(), "python": platform.python_version()},
        "model": recognizer.info.to_dict() | {"digests": None},
        "asr_s_per_audio_s": round(statistics.fmean(cost), 3),
        "summary": {label: _summary(found) for label, found in rows.items()},
        "long": {"audio_s": round(whole["audio_s"], 1), "wer_whole": whole["wer"], "wer_first_60s": cut["wer"]},
        "worst_honest": sorted(
            ({"format": label, **row} for label in FORMATS for row in rows[label]), key=lambda row: -row["wer"]
        )[:8],
        "best_unintelligible": sorted(
            ({"case": label, **row} for label in bad for row in rows[label]), key=lambda row: row["wer"]
        )[:8],
    }
    print(json.dumps(result["summary"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
