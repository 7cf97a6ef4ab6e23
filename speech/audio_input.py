"""Uploaded recordings: decode by content (not by file name), then check they are usable speech.

Browsers record webm/opus, ogg/opus or mp4/aac; people upload wav, mp3 or flac. libsndfile reads the latter and
ogg; PyAV (FFmpeg's libraries, bundled in its wheel) reads everything else. Durations are measured on the decoded
samples, never taken from a header, so a file whose header lies about its length is judged by what it holds.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from speech.audio import resample
from speech.errors import EngineError

ANALYSIS_RATE = 16000


class AudioRejected(EngineError):
    """A recording that cannot be used; `code` is one of the stable `audio_*` codes."""

    def __init__(self, code: str, message: str, **detail) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class AudioLimits:
    min_seconds: float
    max_seconds: float
    max_bytes: int = 10 * 1024 * 1024
    # Share of the recording that must be speech, by voice activity detection.
    min_speech_ratio: float = 0.3
    # Share of samples at full scale above which a recording counts as clipped.
    max_clipped_ratio: float = 0.005
    # Loudness (RMS, dBFS) below which a recording is too quiet to use.
    min_rms_dbfs: float = -45.0


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # mono float32 in [-1, 1]
    sample_rate: int
    container: str

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class AudioReport:
    duration: float
    speech_ratio: float
    rms_dbfs: float
    peak: float
    clipped_ratio: float


def _decode_soundfile(data: bytes) -> DecodedAudio:
    with sf.SoundFile(io.BytesIO(data)) as f:
        samples = f.read(dtype="float32", always_2d=True)
        return DecodedAudio(samples.mean(axis=1), f.samplerate, f.format.lower())


def _decode_av(data: bytes) -> DecodedAudio:
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise ValueError("no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate or 48000)
        parts = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                parts.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            parts.append(out.to_ndarray().reshape(-1))
        rate = resampler.rate
        name = container.format.name.split(",")[0]
    samples = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, dtype=np.float32)
    return DecodedAudio(samples, rate, name)


def decode(data: bytes) -> DecodedAudio:
    """Decode any supported recording to mono float32, or raise AudioRejected(`audio_unreadable`)."""
    if not data:
        raise AudioRejected("audio_unreadable", "The file is empty.")
    errors = []
    for decoder in (_decode_soundfile, _decode_av):
        try:
            decoded = decoder(data)
        except Exception as exc:
            errors.append(f"{decoder.__name__}: {exc}")
            continue
        if decoded.samples.size and np.isfinite(decoded.samples).all():
            return decoded
        errors.append(f"{decoder.__name__}: no audio samples")
    raise AudioRejected("audio_unreadable", "The file is not audio we can read.", reasons=errors[-2:])


SpeechDetector = Callable[[np.ndarray, int], float]
"""Returns the share of the audio (mono float32 at the given rate) that is speech, 0..1."""


def analyse(decoded: DecodedAudio, speech_detector: SpeechDetector) -> tuple[AudioReport, np.ndarray]:
    """Measure a decoded recording; returns the report and the samples resampled to ANALYSIS_RATE."""
    mono16k = resample(decoded.samples, decoded.sample_rate, ANALYSIS_RATE)
    rms = float(np.sqrt(np.mean(np.square(decoded.samples, dtype=np.float64)))) if decoded.samples.size else 0.0
    report = AudioReport(
        duration=decoded.duration,
        speech_ratio=speech_detector(mono16k, ANALYSIS_RATE) if mono16k.size else 0.0,
        rms_dbfs=20 * math.log10(rms) if rms > 0 else -math.inf,
        peak=float(np.max(np.abs(decoded.samples))) if decoded.samples.size else 0.0,
        clipped_ratio=float(np.mean(np.abs(decoded.samples) >= 0.999)) if decoded.samples.size else 0.0,
    )
    return report, mono16k


def validate(data: bytes, limits: AudioLimits, speech_detector: SpeechDetector) -> tuple[DecodedAudio, AudioReport]:
    """Decode and check one recording against `limits`; raise AudioRejected with the first problem found."""
    if len(data) > limits.max_bytes:
        raise AudioRejected(
            "audio_too_large",
            f"The file is larger than {limits.max_bytes // (1024 * 1024)} MB.",
            max_bytes=limits.max_bytes,
        )
    decoded = decode(data)
    if decoded.duration < limits.min_seconds:
        raise AudioRejected(
            "audio_too_short",
            f"The recording is {decoded.duration:.1f} s; it must be at least {limits.min_seconds:g} s.",
            seconds=round(decoded.duration, 2),
            min_seconds=limits.min_seconds,
        )
    if decoded.duration > limits.max_seconds:
        raise AudioRejected(
            "audio_too_long",
            f"The recording is {decoded.duration:.1f} s; it must be at most {limits.max_seconds:g} s.",
            seconds=round(decoded.duration, 2),
            max_seconds=limits.max_seconds,
        )
    report, _ = analyse(decoded, speech_detector)
    if report.rms_dbfs < limits.min_rms_dbfs:
        raise AudioRejected(
            "audio_too_quiet", "The recording is too quiet. Move closer to the microphone.", rms_dbfs=report.rms_dbfs
        )
    if report.clipped_ratio > limits.max_clipped_ratio:
        raise AudioRejected(
            "audio_clipped",
            "The recording is distorted (clipped). Lower the input volume and record again.",
            clipped_ratio=round(report.clipped_ratio, 4),
        )
    if report.speech_ratio < limits.min_speech_ratio:
        raise AudioRejected(
            "audio_no_speech",
            "We could not hear enough speech in the recording.",
            speech_ratio=round(report.speech_ratio, 3),
        )
    return decoded, report
