"""The provenance verdict claims our mark only on speech whose PerTh confidence clears the measured threshold: no
clip of an unmarked corpus (tones, sweep, chords, melody, noise, speech; 8-44.1 kHz; as made, MP3, Opus) is
claimed, and marked speech still is after MP3 at 64 kbps."""

from __future__ import annotations

import numpy as np
import pytest

from speech.audio import encode
from speech.audio_input import decode
from speech.watermark import (
    DETECTION_THRESHOLD,
    VERDICT_THRESHOLD,
    watermark_apply,
    watermark_detect,
    watermark_verdict,
)
from tests.support.media import SAMPLE_TEXT, mp3_av, speech, unmarked_corpus, with_noise

CODECS = {
    "as made": lambda samples, rate: (samples, rate),
    "mp3": lambda samples, rate: (decode(mp3_av(samples, rate)).samples, rate),
    "opus 48k": lambda samples, rate: (decode(encode(samples, rate, "ogg", target_rate=48000)).samples, 48000),
}


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[np.ndarray, int]]:
    return unmarked_corpus()


@pytest.mark.parametrize("codec", list(CODECS))
def test_no_unmarked_clip_is_claimed(corpus, codec):
    claimed, table = [], []
    for name, (samples, rate) in corpus.items():
        verdict = watermark_verdict(*CODECS[codec](samples, rate))
        table.append(
            f"{name:36} {verdict.reason:13} confidence {verdict.confidence:.3f} speech {verdict.speech_ratio:.2f}"
        )
        if verdict.watermarked:
            claimed.append(name)
    print(f"\n{codec}:\n" + "\n".join(table))  # noqa: T201

    assert len(corpus) == 52
    assert claimed == []


def test_the_tone_that_fooled_the_detector_is_not_speech(corpus):
    tone, rate = corpus["tone 220 Hz @ 8000 Hz"]
    received = decode(mp3_av(tone, rate)).samples

    # The false positive, still there in the raw detector...
    assert watermark_detect(received, rate) >= DETECTION_THRESHOLD
    # ...and refused by the verdict, for want of speech.
    verdict = watermark_verdict(received, rate)
    assert (verdict.watermarked, verdict.reason) == (False, "no_speech")


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100])
def test_marked_speech_is_claimed_after_mp3_at_64_kbps(rate):
    marked = watermark_apply(speech(SAMPLE_TEXT, rate=rate), rate)

    verdict = watermark_verdict(decode(mp3_av(marked, rate, 64_000)).samples, rate)

    assert verdict.watermarked, verdict
    assert verdict.confidence >= VERDICT_THRESHOLD
    assert verdict.to_dict()["reason"] == "marked"


def test_marked_speech_under_heavy_noise_is_never_called_clean():
    marked = watermark_apply(speech(SAMPLE_TEXT, rate=22050), 22050)

    verdict = watermark_verdict(with_noise(marked, 20.0, seed=1), 22050)

    assert verdict.reason in {"inconclusive", "marked"}


def test_silence_is_not_claimed():
    verdict = watermark_verdict(np.zeros(3 * 16000, dtype=np.float32), 16000)
    assert (verdict.watermarked, verdict.reason) == (False, "no_speech")
