"""Recordings for tests: real Piper speech, and encoders for the containers browsers record in (via PyAV)."""

from __future__ import annotations

import functools
import io

import av
import numpy as np
import soundfile as sf

from speech.audio import concatenate, resample
from speech.engines.base import SynthesisRequest
from speech.engines.piper import PiperEngine

CONSENT_TEXT = (
    "I, the account holder, consent to the creation of a synthetic voice from my recordings. Amber river seven lantern."
)
SAMPLE_TEXT = (
    "The weather today is bright and clear, with a light wind from the west. "
    "Later this evening we expect a few clouds, but no rain at all. Enjoy your walk in the park."
)


@functools.cache
def _piper() -> PiperEngine:
    engine = PiperEngine()
    engine.load()
    return engine


@functools.cache
def speech(text: str, rate: int = 16000, speed: float = 1.0) -> np.ndarray:
    samples, source_rate = concatenate(
        _piper().synthesize(SynthesisRequest(text=text, voice="en_US-joe-medium", speed=speed))
    )
    return resample(samples, source_rate, rate)


def other_speaker(samples: np.ndarray, rate: int = 16000, factor: float = 1.4) -> np.ndarray:
    """A different-sounding speaker: pitch and formants shifted up together by playing the audio faster."""
    return resample(samples, rate, int(rate / factor))


def encode_sf(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def encode_av(samples: np.ndarray, rate: int, container: str, codec: str, out_rate: int) -> bytes:
    """Encode like a browser's MediaRecorder would: webm/opus or mp4/aac."""
    data = resample(samples, rate, out_rate)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=out_rate, layout="mono")
        frame_size = 960 if codec == "libopus" else 1024
        pts = 0
        for start in range(0, len(data), frame_size):
            block = data[start : start + frame_size]
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
            frame.sample_rate = out_rate
            frame.pts = pts
            pts += len(block)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()
