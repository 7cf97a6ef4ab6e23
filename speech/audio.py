"""Audio encoding: PCM chunks to wav / mp3 / ogg (Opus) / flac bytes through libsndfile, resampling with soxr."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from speech.engines.base import PcmChunk
from speech.errors import UnsupportedFormat


@dataclass(frozen=True)
class Container:
    format: str
    subtype: str


# libsndfile's names for each output format.
CONTAINERS: dict[str, Container] = {
    "wav": Container("WAV", "PCM_16"),
    "mp3": Container("MP3", "MPEG_LAYER_III"),
    "ogg": Container("OGG", "OPUS"),
    "flac": Container("FLAC", "PCM_16"),
}


def concatenate(chunks: Iterable[PcmChunk]) -> tuple[np.ndarray, int]:
    parts: list[np.ndarray] = []
    rate = 0
    for chunk in chunks:
        if rate and chunk.sample_rate != rate:
            raise ValueError("chunks of one utterance must share a sample rate")
        rate = chunk.sample_rate
        parts.append(np.asarray(chunk.samples, dtype=np.float32))
    if not parts:
        return np.zeros(0, dtype=np.float32), rate
    return np.concatenate(parts), rate


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    if source_rate == target_rate or samples.size == 0:
        return samples
    return soxr.resample(samples, source_rate, target_rate, quality="HQ").astype(np.float32)


def encode(samples: np.ndarray, sample_rate: int, fmt: str, *, target_rate: int) -> bytes:
    """Encode mono float32 samples produced at `sample_rate` as `fmt`, resampled to `target_rate`."""
    try:
        spec = CONTAINERS[fmt]
    except KeyError as exc:
        raise UnsupportedFormat(f"unsupported format {fmt!r}") from exc
    rate = target_rate
    data = np.clip(resample(samples, sample_rate, rate), -1.0, 1.0)
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, mode="w", samplerate=rate, channels=1, format=spec.format, subtype=spec.subtype) as f:
        f.write(data)
    return buffer.getvalue()
