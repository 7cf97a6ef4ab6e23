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


# MPEG Layer III bitrates (kbps) by header index: MPEG-1, and MPEG-2 / 2.5.
_MP3_BITRATES = {
    "mpeg1": (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    "mpeg2": (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


def mp3_frame_bitrates(data: bytes) -> set[int]:
    """The bitrates (kbps) written in the headers of an MP3 stream's audio frames, walking frame by frame."""
    i = 0
    if data[:3] == b"ID3":
        i = 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9])
    while i + 4 <= len(data) and not (data[i] == 0xFF and data[i + 1] & 0xE0 == 0xE0):
        i += 1
    rates, frames = set(), 0
    while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] & 0xE0 == 0xE0:
        version = (data[i + 1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
        kbps = _MP3_BITRATES["mpeg1" if version == 3 else "mpeg2"][(data[i + 2] >> 4) & 15]
        rate = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}[version][
            (data[i + 2] >> 2) & 3
        ]
        padding = (data[i + 2] >> 1) & 1
        size = (144 if version == 3 else 72) * kbps * 1000 // rate + padding
        if frames:  # the first frame is LAME's Info tag, written at its own bitrate
            rates.add(kbps)
        frames += 1
        i += size
    return rates


def ulaw_decode(data: bytes) -> np.ndarray:
    """G.711 μ-law bytes to float samples in [-1, 1], written from the standard, independent of libsndfile."""
    u = ~np.frombuffer(data, dtype=np.uint8)
    exponent = (u >> 4) & 0x07
    mantissa = (u & 0x0F).astype(np.int32)
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.float32) / 32768.0


def pcm16le_decode(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
