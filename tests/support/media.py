"""Recordings for tests: real Piper speech, and encoders for the containers browsers record in (via PyAV)."""

from __future__ import annotations

import atexit
import functools
import io
import json
import shutil
import tempfile
from pathlib import Path

import av
import numpy as np
import onnxruntime
import soundfile as sf
from piper import PiperVoice
from piper.config import PiperConfig

from speech.audio import concatenate, resample
from speech.engines.base import SynthesisRequest
from speech.engines.piper import PiperEngine, _bundled_voices
from textnorm.consent_wording import PHRASE_WORDS, phrase_draw
from textnorm.consent_wording import consent_statement as product_statement

CONSENT_TEXT = (
    "I, the account holder, consent to the creation of a synthetic voice from my recordings. Amber river seven lantern."
)
SAMPLE_TEXT = (
    "The weather today is bright and clear, with a light wind from the west. "
    "Later this evening we expect a few clouds, but no rain at all. Enjoy your walk in the park."
)


VOICE = "en_US-joe-medium"


@functools.cache
def _optimized_voice() -> Path:
    """The bundled voice as onnxruntime optimizes it on this machine, written once per test process: a session
    made from it without optimizing again loads in ~0.25 s instead of ~0.9 s, and `speech` makes one per call."""
    source = _bundled_voices()[VOICE]
    folder = Path(tempfile.mkdtemp(prefix="odiadev-test-voice-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # ~60 MB: not left behind by each test process
    optimized = folder / f"{VOICE}.onnx"
    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(optimized)
    onnxruntime.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    shutil.copy(f"{source}.json", f"{optimized}.json")
    return optimized


class _SeededPiper(PiperEngine):
    """Piper (the product's engine: its sentence split, speed and voice) whose VITS noise comes from a fixed seed.
    onnxruntime's random nodes take their generator from the global seed when a session is made, and advance it
    with every run: so a fresh session per recording, seeded just before, gives the same samples for the same text,
    speed and take in every run of the suite, whatever ran before it."""

    def __init__(self, seed: int) -> None:
        super().__init__(voice_paths={VOICE: _optimized_voice()})
        self._seed = seed

    def _load_voice(self, model_path: Path) -> PiperVoice:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        onnxruntime.set_seed(self._seed)
        session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        config = json.loads(Path(f"{model_path}.json").read_text(encoding="utf-8"))
        return PiperVoice(config=PiperConfig.from_dict(config), session=session)


@functools.cache
def speech(text: str, rate: int = 16000, speed: float = 1.0, take: int = 0) -> np.ndarray:
    """`text` read by Piper, at `rate`. Piper samples its voice afresh on each synthesis (even the length changes);
    here each `take` is one fixed reading, the same in every run: another take is another reading, as a person
    reading the text again would give."""
    samples, source_rate = concatenate(
        _SeededPiper(seed=take).synthesize(SynthesisRequest(text=text, voice=VOICE, speed=speed))
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


# The consent wording the product issues (speech.consent), for benchmarks and speech tests.
CONSENT_PHRASE_WORDS = PHRASE_WORDS


def consent_statement(email: str, phrase: str) -> str:
    return product_statement(email=email, phrase=phrase)


def consent_phrase(rng) -> str:
    """A one-time phrase as the product draws it (`rng`: random.Random)."""
    return phrase_draw(rng)


def with_noise(samples: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """`samples` plus white noise `snr_db` below their power."""
    power = np.mean(np.square(samples, dtype=np.float64))
    noise = np.random.default_rng(seed).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), samples.shape)
    return (samples + noise).astype(np.float32)


def unmarked_corpus(seconds: float = 3.0) -> dict[str, tuple[np.ndarray, int]]:
    """Audio that never carried our mark, at the rate it is made at: tones, a sweep, music-like harmonic signals
    (chords, a melody with vibrato), white and pink noise, and Piper speech. For the watermark's false positives."""
    corpus: dict[str, tuple[np.ndarray, int]] = {}
    rng = np.random.default_rng(3)
    for rate in (8000, 16000, 22050, 44100):
        t = np.arange(int(seconds * rate)) / rate

        def note(freq: float, t: np.ndarray = t, rate: int = rate) -> np.ndarray:
            harmonics = sum(
                (0.6**k) * np.sin(2 * np.pi * freq * (k + 1) * t) for k in range(6) if freq * (k + 1) < rate / 2
            )
            return harmonics / 2.5

        envelope = np.exp(-3 * (t % 0.5))  # a struck note every half second
        chords = [(261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7)]
        chord = (
            np.concatenate([sum(note(f)[: len(t) // 4] for f in c) / 3 for c in chords] + [np.zeros(len(t) % 4)])
            * envelope
        )
        pitch = 330 * 2 ** (np.floor(t * 4) % 8 / 12) * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))  # with vibrato
        melody = np.sin(2 * np.pi * np.cumsum(pitch) / rate) * envelope
        white = rng.standard_normal(len(t))
        spectrum = np.fft.rfft(rng.standard_normal(len(t)))
        pink = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.fft.rfftfreq(len(t), 1 / rate), 1.0)), len(t))
        signals = {
            "tone 220 Hz": np.sin(2 * np.pi * 220 * t),
            "tone 1 kHz": np.sin(2 * np.pi * 1000 * t),
            "sweep": np.sin(2 * np.pi * (100 * t + (min(3500, rate / 2 - 100) - 100) / (2 * seconds) * t**2)),
            "chords": chord,
            "melody": melody,
            "white noise": white,
            "pink noise": pink,
            "speech": speech(SAMPLE_TEXT, rate=rate)[: len(t)],
            "speech, slow": speech(SAMPLE_TEXT, rate=rate, speed=0.8)[: len(t)],
            "speech, other speaker": other_speaker(speech(SAMPLE_TEXT, rate=rate), rate)[: len(t)],
            "speech with white noise": with_noise(speech(SAMPLE_TEXT, rate=rate)[: len(t)], 20.0),
            # Speech over a tone or music: the voice opens the speech gate, the rest is what fooled PerTh.
            "speech over a 220 Hz tone": speech(SAMPLE_TEXT, rate=rate)[: len(t)] + 0.1 * np.sin(2 * np.pi * 220 * t),
            "speech over chords": speech(SAMPLE_TEXT, rate=rate)[: len(t)] + 0.1 * chord,
        }
        for name, signal in signals.items():
            peak = float(np.max(np.abs(signal))) or 1.0
            corpus[f"{name} @ {rate} Hz"] = ((0.3 * signal / peak).astype(np.float32), rate)
    return corpus


def mp3_av(samples: np.ndarray, rate: int, bit_rate: int | None = None) -> bytes:
    """MP3 through FFmpeg's libmp3lame at `rate` (8 kHz MP3 is what a phone recording may arrive as)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        if bit_rate:
            stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()
