"""Audio encoding: PCM chunks to wav / mp3 / ogg (Opus) / flac / raw PCM / raw μ-law bytes through libsndfile,
resampling with soxr."""

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


# libsndfile's names for each output format. `pcm` and `ulaw` are headerless (libsndfile's RAW container): signed
# 16-bit little-endian samples, and G.711 μ-law bytes (what telephony APIs such as Twilio's media streams take).
CONTAINERS: dict[str, Container] = {
    "wav": Container("WAV", "PCM_16"),
    "mp3": Container("MP3", "MPEG_LAYER_III"),
    "ogg": Container("OGG", "OPUS"),
    "flac": Container("FLAC", "PCM_16"),
    "pcm": Container("RAW", "PCM_16"),
    "ulaw": Container("RAW", "ULAW"),
}

# The only rates the Opus codec runs at (libsndfile refuses others).
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def mp3_bitrate_range(sample_rate: int) -> tuple[int, int]:
    """The constant bitrates (kbps) MP3 allows at `sample_rate`: MPEG-1 from 32 kHz, MPEG-2 from 16 kHz, else
    MPEG-2.5. These are the bounds libsndfile maps its compression level onto."""
    if sample_rate >= 32000:
        return 32, 320
    if sample_rate >= 16000:
        return 8, 160
    return 8, 64


def _mp3_compression_level(bitrate: int, sample_rate: int) -> float:
    # libsndfile (mpeg_l3_encoder_set_quality) picks the constant bitrate int(max - level * (max - min)) and lame
    # takes the nearest standard one; the half kbps keeps the truncation from landing one below the target.
    low, high = mp3_bitrate_range(sample_rate)
    if not low <= bitrate <= high:
        raise UnsupportedFormat(f"mp3 at {sample_rate} Hz runs at {low}-{high} kbps, not {bitrate}")
    return min(max((high - bitrate - 0.5) / (high - low), 0.0), 0.999)


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


def stitch(chunks: Iterable[PcmChunk], crossfade_seconds: float = 0.015) -> tuple[np.ndarray, int]:
    """Join the chunks of one utterance with a short linear crossfade at each seam (no click where one generation
    ends and the next begins). The result is shorter than the plain sum by one crossfade per seam. A chunk marked
    `continues` (a streamed piece of the same generation) is appended as it is: there is no seam to hide."""
    samples, rate, _ = stitch_offsets(chunks, crossfade_seconds)
    return samples, rate


def stitch_offsets(chunks: Iterable[PcmChunk], crossfade_seconds: float = 0.015) -> tuple[np.ndarray, int, list[int]]:
    """`stitch`, and where each chunk's first sample lands in the result (its fade-in overlaps the end of the
    audio before it): what places a chunk's word timings on the whole utterance."""
    parts: list[np.ndarray] = []
    offsets: list[int] = []
    length = 0  # samples in `parts`
    tail: np.ndarray | None = None  # the last samples of the audio so far, held back to be faded into the next
    rate = 0

    def add(part: np.ndarray) -> None:
        nonlocal length
        parts.append(part)
        length += part.size

    for chunk in chunks:
        if rate and chunk.sample_rate != rate:
            raise ValueError("chunks of one utterance must share a sample rate")
        rate = chunk.sample_rate
        samples = np.asarray(chunk.samples, dtype=np.float32)
        if samples.size == 0:
            offsets.append(length + (tail.size if tail is not None else 0))
            continue
        fade = int(rate * crossfade_seconds)
        if tail is not None and chunk.continues:
            add(tail)
            tail = None
        if tail is not None:
            n = min(fade, tail.size, samples.size)
            if n:
                ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
                add(tail[: tail.size - n])
                offsets.append(length)
                add(tail[tail.size - n :] * (1.0 - ramp) + samples[:n] * ramp)
                samples = samples[n:]
            else:
                add(tail)
                offsets.append(length)
        else:
            offsets.append(length)
        keep = min(fade, samples.size)
        add(samples[: samples.size - keep])
        tail = samples[samples.size - keep :]
    if tail is not None:
        add(tail)
    if not parts:
        return np.zeros(0, dtype=np.float32), rate, offsets
    return np.concatenate(parts), rate, offsets


_MP3_KBPS = {
    "mpeg1": (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0),
    "mpeg2": (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mp3_stream_piece(data: bytes) -> bytes:
    """An encoded MP3 file as a piece of a longer stream: its ID3 tag and its LAME/Xing "Info" frame go (they
    describe this piece alone: a decoder honouring them would stop at the end of the first piece)."""
    start = 0
    if data[:3] == b"ID3":
        start = 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9])
    while start + 4 <= len(data) and not (data[start] == 0xFF and data[start + 1] & 0xE0 == 0xE0):
        start += 1
    if start + 4 > len(data):
        return data[start:]
    version = (data[start + 1] >> 3) & 3
    kbps = _MP3_KBPS["mpeg1" if version == 3 else "mpeg2"][(data[start + 2] >> 4) & 15]
    rate = _MP3_RATES.get(version, (0, 0, 0))[(data[start + 2] >> 2) & 3]
    if not kbps or not rate:
        return data[start:]
    size = (144 if version == 3 else 72) * kbps * 1000 // rate + ((data[start + 2] >> 1) & 1)
    if b"Xing" in data[start : start + size] or b"Info" in data[start : start + size]:
        start += size
    return data[start:]


class OggOpusStream:
    """One Ogg Opus stream encoded piece by piece (for streaming): each call returns the bytes completed since the
    last one (Ogg pages fill as audio comes), `close` the rest. Concatenated, they are one valid file."""

    def __init__(self, rate: int):
        import av

        if rate not in OPUS_RATES:
            raise UnsupportedFormat(f"Opus runs at {', '.join(map(str, OPUS_RATES))} Hz, not {rate}")
        self._av = av
        self._buffer = io.BytesIO()
        self._sent = 0
        self._pts = 0
        self.rate = rate
        self._container = av.open(self._buffer, mode="w", format="ogg")
        self._stream = self._container.add_stream("libopus", rate=rate)
        self._stream.layout = "mono"

    def push(self, samples: np.ndarray, sample_rate: int) -> bytes:
        data = np.clip(resample(samples, sample_rate, self.rate), -1.0, 1.0).astype(np.float32)
        if data.size:
            frame = self._av.AudioFrame.from_ndarray(data.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate, frame.pts = self.rate, self._pts
            self._pts += data.size
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        return self._take()

    def close(self) -> bytes:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._take()

    def _take(self) -> bytes:
        data = self._buffer.getvalue()[self._sent :]
        self._sent += len(data)
        return data


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    if source_rate == target_rate or samples.size == 0:
        return samples
    return soxr.resample(samples, source_rate, target_rate, quality="HQ").astype(np.float32)


def encode(samples: np.ndarray, sample_rate: int, fmt: str, *, target_rate: int, bitrate: int | None = None) -> bytes:
    """Encode mono float32 samples produced at `sample_rate` as `fmt`, resampled to `target_rate`.

    `bitrate` (kbps) applies to mp3 only, which it makes constant-bitrate; without it mp3 is libsndfile's default
    variable bitrate.
    """
    try:
        spec = CONTAINERS[fmt]
    except KeyError as exc:
        raise UnsupportedFormat(f"unsupported format {fmt!r}") from exc
    if fmt == "ogg" and target_rate not in OPUS_RATES:
        raise UnsupportedFormat(f"Opus runs at {', '.join(map(str, OPUS_RATES))} Hz, not {target_rate}")
    if bitrate is not None and fmt != "mp3":
        raise UnsupportedFormat(f"a bitrate applies to mp3 only, not {fmt}")
    options: dict = {}
    if bitrate is not None:
        options = {"compression_level": _mp3_compression_level(bitrate, target_rate), "bitrate_mode": "CONSTANT"}
    if spec.format == "RAW":
        options["endian"] = "LITTLE"
    rate = target_rate
    data = np.clip(resample(samples, sample_rate, rate), -1.0, 1.0)
    buffer = io.BytesIO()
    with sf.SoundFile(
        buffer, mode="w", samplerate=rate, channels=1, format=spec.format, subtype=spec.subtype, **options
    ) as f:
        f.write(data)
    return buffer.getvalue()


def decode_output(data: bytes, fmt: str, *, sample_rate: int) -> np.ndarray:
    """Mono float32 samples of audio that `encode` made as `fmt` at `sample_rate` (the raw formats carry no header,
    so the rate is the caller's to say). For joining pieces encoded separately into one file."""
    spec = CONTAINERS[fmt]
    if not data:
        return np.zeros(0, dtype=np.float32)
    options: dict = {}
    if spec.format == "RAW":
        options = {"format": "RAW", "subtype": spec.subtype, "samplerate": sample_rate, "channels": 1}
        options["endian"] = "LITTLE"
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False, **options)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    return resample(samples.astype(np.float32), rate, sample_rate)
