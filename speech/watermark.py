"""Provenance watermark: Resemble AI's PerTh (resemble-perth), an imperceptible mark in the magnitude spectrum.

The network works at 32 kHz: audio is resampled (soxr) to 32 kHz to embed or detect, and marked audio back to its
own rate. The weights ship inside the package, so loading reads a local file and fetches nothing.

Pitfall: `perth` swallows the ImportError of its network (torchaudio, librosa or `pkg_resources` missing) and sets
`perth.PerthImplicitWatermarker = None` without a word. Workers check for that at start (`watermark_check`) and
refuse to start, rather than deliver free-plan audio without its mark.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from speech.audio import resample

logger = logging.getLogger(__name__)

MODEL_RATE = 32000
VAD_RATE = 16000
# PerTh's decoder answers near 1.0 on marked audio and near 0.0 on any other (see README for measured figures).
DETECTION_THRESHOLD = 0.5
# PerTh's decoder holds its activations for the whole input, about 3 MB per second of audio (60 s: +230 MB peak),
# so longer audio is judged in windows of at most this length and their confidences averaged by length: measured
# on 60 s of Piper speech, marked 1.0 / unmarked 0.03 / marked under 20 dB noise 0.81 by 10-s windows against 1.0
# / 0.01 / 0.82 whole, at +22 MB. Clips up to this length (the 3-s clips of the false-positive corpus) are judged
# whole, as before.
DETECT_WINDOW_SECONDS = 10.0


class WatermarkUnavailable(RuntimeError):
    """The PerTh watermarker cannot be loaded in this process."""


def _perth_class() -> Any:
    """PerTh's watermarker class, or WatermarkUnavailable saying why it is missing."""
    try:
        import perth
    except Exception as exc:  # not installed, or its own imports fail
        raise WatermarkUnavailable(
            f"PerTh watermarker unavailable: cannot import perth ({exc}). Install resemble-perth==1.0.1."
        ) from exc
    cls = getattr(perth, "PerthImplicitWatermarker", None)
    if cls is None:
        # perth hides the reason; importing the module it failed on shows it.
        reason = "unknown"
        try:
            import perth.perth_net.perth_net_implicit.perth_watermarker
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
        raise WatermarkUnavailable(
            "PerTh watermarker unavailable: perth.PerthImplicitWatermarker is None "
            f"(its dependencies failed to import: {reason}). It needs torch, torchaudio, librosa and "
            "setuptools<81 (pkg_resources)."
        )
    return cls


def watermark_check() -> None:
    """Raise WatermarkUnavailable unless PerTh can be loaded here. Cheap: imports, runs no model."""
    _perth_class()


class Watermarker:
    """One loaded PerTh network. Not thread-safe by itself: the module functions serialise calls."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._impl: Any = None

    def load(self) -> None:
        cls = _perth_class()
        try:
            self._impl = cls(device=self.device)
        except Exception as exc:
            raise WatermarkUnavailable(f"PerTh watermarker unavailable: its model failed to load ({exc}).") from exc
        hop = self._impl.perth_net.hp.hop_size
        if self._impl.perth_net.hp.sample_rate != MODEL_RATE:
            raise WatermarkUnavailable(f"PerTh's model runs at {self._impl.perth_net.hp.sample_rate} Hz, not 32 kHz.")
        self._hop = int(hop)
        logger.info("PerTh watermarker loaded (%s, %d Hz)", self.device, MODEL_RATE)

    def apply(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """Marked copy of mono float32 `samples` at `rate`, same length and rate."""
        import torch

        samples = np.asarray(samples, dtype=np.float32)
        if samples.size == 0:
            return samples
        at_model = resample(samples, rate, MODEL_RATE)
        # PerTh drops a trailing partial STFT hop; pad to whole hops so the end of the audio is kept (and marked).
        padded = np.pad(at_model, (0, -len(at_model) % self._hop))
        with torch.inference_mode():
            marked = np.asarray(self._impl.apply_watermark(padded, sample_rate=MODEL_RATE), dtype=np.float32)
        marked = marked[: len(at_model)]
        if len(marked) < len(at_model):
            marked = np.pad(marked, (0, len(at_model) - len(marked)))
        out = resample(marked, MODEL_RATE, rate)
        # Resampling can be off by a sample: keep the engine's length exactly (durations are billed and shown).
        if len(out) != len(samples):
            out = np.pad(out, (0, max(0, len(samples) - len(out))))[: len(samples)]
        return np.clip(out, -1.0, 1.0).astype(np.float32)

    def detect(self, samples: np.ndarray, rate: int) -> float:
        """Confidence in [0, 1] that `samples` carry the mark."""
        import torch

        samples = np.asarray(samples, dtype=np.float32)
        at_model = resample(samples, rate, MODEL_RATE)
        if at_model.size < self._hop * 8:
            return 0.0  # too short for the decoder to say anything
        total = weight = 0.0
        # Equal windows of at most DETECT_WINDOW_SECONDS (no short tail), their confidences averaged by length.
        for window in np.array_split(at_model, math.ceil(at_model.size / (DETECT_WINDOW_SECONDS * MODEL_RATE))):
            with torch.inference_mode():
                value = float(np.mean(self._impl.get_watermark(window, sample_rate=MODEL_RATE, round=False)))
            # Silence leaves the decoder nothing to average over (NaN): nothing found there.
            if np.isfinite(value):
                total += value * window.size
                weight += window.size
        return float(np.clip(total / weight, 0.0, 1.0)) if weight else 0.0


_watermarker: Watermarker | None = None
_lock = threading.Lock()


def watermarker() -> Watermarker:
    """The process-wide watermarker, loaded on first use (workers load it at start)."""
    global _watermarker
    with _lock:
        if _watermarker is None:
            loaded = Watermarker()
            loaded.load()
            _watermarker = loaded
        return _watermarker


def watermark_apply(samples: np.ndarray, rate: int) -> np.ndarray:
    """Embed the provenance mark; raises WatermarkUnavailable rather than return unmarked audio."""
    engine = watermarker()
    with _lock:
        return engine.apply(samples, rate)


def watermark_detect(samples: np.ndarray, rate: int) -> float:
    """Confidence in [0, 1] that the audio carries our mark; watermarked when >= DETECTION_THRESHOLD."""
    engine = watermarker()
    with _lock:
        return engine.detect(samples, rate)


# ---------------------------------------------------------------------------------------------------------------
# The provenance verdict: what the public check answers.
# ---------------------------------------------------------------------------------------------------------------
# PerTh's decoder was trained on speech; on audio without speech it answers almost anything: a plain 220 Hz tone
# scores 0.97 as made and as an 8 kHz MP3, a sweep 0.66-0.74 (16 of 156 unmarked corpus clips reach 0.5, the old
# threshold). On speech it is steadier but not clean: unmarked Piper speech sent as an 8 kHz MP3 scored up to 0.49
# in the stored run (72 speech clips) and up to 0.64 in others (the score moves from run to run), while marked
# speech scored 1.0 as made and after MP3 (16 and 64 kbps) and Opus at 8-44.1 kHz (16 of 16), and 0.60-0.86 under
# white noise at 20 dB SNR. So a mark is claimed only on audio that is mostly speech (VERDICT_MIN_SPEECH_RATIO by
# silero-vad; no tone, sweep, chord, melody or noise clip scored above 0.0) and at VERDICT_THRESHOLD or above,
# which no unmarked clip reached (0 of 156 claimed); speech scoring from INCONCLUSIVE_FROM up to the threshold is
# "inconclusive" (marked audio under heavy noise lands there), never "marked". Measured by
# `bench/watermark.py --corpus` (bench/measured/watermark_fpr_2core.json); tests/speech/test_watermark_verdict.py.
VERDICT_MIN_SPEECH_RATIO = 0.2
VERDICT_THRESHOLD = 0.9
INCONCLUSIVE_FROM = DETECTION_THRESHOLD


@dataclass(frozen=True)
class WatermarkVerdict:
    watermarked: bool
    confidence: float  # PerTh's mean decoder output, 0..1
    speech_ratio: float  # share of the audio that is speech (silero-vad at 16 kHz)
    reason: str  # "marked" | "no_speech" | "inconclusive" | "not_marked"
    threshold: float
    min_speech_ratio: float

    def to_dict(self) -> dict:
        return {
            "watermarked": self.watermarked,
            "confidence": round(self.confidence, 4),
            "speech_ratio": round(self.speech_ratio, 3),
            "reason": self.reason,
        }


def watermark_verdict(
    samples: np.ndarray,
    rate: int,
    *,
    threshold: float = VERDICT_THRESHOLD,
    min_speech_ratio: float = VERDICT_MIN_SPEECH_RATIO,
) -> WatermarkVerdict:
    """Whether `samples` (mono float32 at `rate`) carry our mark: speech (at least `min_speech_ratio` of it, by
    voice activity detection) whose PerTh confidence is at least `threshold`. Speech scoring from
    INCONCLUSIVE_FROM up to the threshold is "inconclusive": not claimed, but not declared clean either."""
    from speech.vad import speech_ratio

    samples = np.asarray(samples, dtype=np.float32)
    ratio = speech_ratio(resample(samples, rate, VAD_RATE), VAD_RATE) if samples.size else 0.0
    confidence = watermark_detect(samples, rate)
    if ratio < min_speech_ratio:
        reason = "no_speech"
    elif confidence < min(INCONCLUSIVE_FROM, threshold):
        reason = "not_marked"
    elif confidence < threshold:
        reason = "inconclusive"
    else:
        reason = "marked"
    return WatermarkVerdict(
        watermarked=reason == "marked",
        confidence=confidence,
        speech_ratio=ratio,
        reason=reason,
        threshold=threshold,
        min_speech_ratio=min_speech_ratio,
    )
