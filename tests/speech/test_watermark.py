"""The PerTh provenance mark: found in marked speech after the transformations audio goes through, never in
unmarked speech; and a watermarker that cannot load says so instead of passing audio through unmarked."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

import speech.watermark as wm
from speech.audio import encode, resample
from speech.audio_input import decode
from speech.watermark import DETECTION_THRESHOLD, WatermarkUnavailable, watermark_apply, watermark_detect
from tests.support.media import SAMPLE_TEXT, other_speaker, speech

RATE = 22050  # Piper's rate: what the runner marks


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return speech(SAMPLE_TEXT, rate=RATE)


@pytest.fixture(scope="module")
def marked(clean) -> np.ndarray:
    return watermark_apply(clean, RATE)


def _mp3(samples: np.ndarray, rate: int, bit_rate: int) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def _with_noise(samples: np.ndarray, snr_db: float) -> np.ndarray:
    power = np.mean(np.square(samples, dtype=np.float64))
    noise = np.random.default_rng(7).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), samples.shape)
    return (samples + noise).astype(np.float32)


def test_marking_keeps_length_and_is_quiet(clean, marked):
    assert marked.dtype == np.float32
    assert len(marked) == len(clean)
    # Imperceptible: the change is far below the speech (here about -20 dB or less, relative to the signal).
    change = np.sqrt(np.mean(np.square(marked - clean))) / np.sqrt(np.mean(np.square(clean)))
    assert change < 0.2


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda x: x, id="as-is"),
        pytest.param(lambda x: decode(_mp3(x, RATE, 64_000)).samples, id="mp3-64k"),
        pytest.param(lambda x: decode(encode(x, RATE, "mp3", target_rate=RATE)).samples, id="mp3-delivered"),
        pytest.param(lambda x: decode(encode(x, RATE, "ogg", target_rate=48000)).samples, id="ogg-opus-delivered"),
        pytest.param(lambda x: resample(resample(x, RATE, 16000), 16000, RATE), id="resampled-16k"),
        pytest.param(lambda x: _with_noise(x, 20.0), id="white-noise-20db"),
    ],
)
def test_the_mark_is_found_after_what_audio_goes_through(marked, transform, request):
    received = transform(marked)
    rate = 48000 if "ogg" in request.node.callspec.id else RATE

    confidence = watermark_detect(received, rate)

    assert confidence >= DETECTION_THRESHOLD, f"{request.node.callspec.id}: {confidence:.4f}"


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda x: x, id="paid-output"),
        pytest.param(lambda x: decode(_mp3(x, RATE, 64_000)).samples, id="paid-mp3-64k"),
        pytest.param(lambda x: _with_noise(x, 20.0), id="paid-white-noise-20db"),
        pytest.param(lambda x: other_speaker(x, RATE), id="another-speaker"),
    ],
)
def test_unmarked_speech_is_not_detected(clean, transform, request):
    confidence = watermark_detect(transform(clean), RATE)

    assert confidence < 0.1, f"{request.node.callspec.id}: {confidence:.4f}"


def test_a_clean_recording_at_16k_is_not_detected():
    recording = speech("Amber river seven lantern. This is a person reading a sentence aloud.", rate=16000)

    assert watermark_detect(recording, 16000) < 0.1


def test_silence_and_tiny_clips_are_not_detected():
    assert watermark_detect(np.zeros(RATE, dtype=np.float32), RATE) < DETECTION_THRESHOLD
    assert watermark_detect(np.zeros(100, dtype=np.float32), RATE) == 0.0
    assert len(watermark_apply(np.zeros(0, dtype=np.float32), RATE)) == 0


def test_a_broken_perth_is_a_clear_error_not_unmarked_audio(monkeypatch):
    # perth sets its class to None when torchaudio or pkg_resources fail to import (the pitfall we guard against).
    import perth

    monkeypatch.setattr(perth, "PerthImplicitWatermarker", None)
    monkeypatch.setattr(wm, "_watermarker", None)

    with pytest.raises(WatermarkUnavailable, match="PerthImplicitWatermarker is None"):
        wm.watermark_check()
    with pytest.raises(WatermarkUnavailable, match="PerthImplicitWatermarker is None"):
        watermark_apply(np.zeros(RATE, dtype=np.float32), RATE)
