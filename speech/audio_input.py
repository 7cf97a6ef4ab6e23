"""Uploaded recordings: decode by content (not by file name), then check they are usable speech.

Browsers record webm/opus, ogg/opus or mp4/aac; people upload wav, mp3 or flac. libsndfile reads the latter and
ogg; PyAV (FFmpeg's libraries, bundled in its wheel) reads everything else.

Decoding is bounded: a few hundred kilobytes of compressed silence can hold hours of eight-channel audio (a 237 KB
FLAC is ten minutes of 8 x 48 kHz, 0.9 GB as float32). So the length in the container's header is read first and a
recording clearly longer than allowed is refused before any decoding; then audio is decoded block by block, each
block mixed down to mono as it comes, into a buffer that stops at the allowed number of samples. Headers can lie
or be missing (a live webm has no duration, an MP3 without its Xing frame is estimated from its first frame), so a
header is trusted only to refuse early, and only when far beyond the limit; the length judged is that of the
samples decoded.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from speech.audio import resample
from speech.errors import EngineError

ANALYSIS_RATE = 16000
# decode() without `max_seconds` refuses recordings longer than this (audio_too_long) rather than hold them: the
# longest recording the product accepts is a minute. At 48 kHz mono float32 this is at most 58 MB.
HARD_MAX_SECONDS = 300.0
# Above this rate a recording is refused as unreadable: no microphone records it, and the sample cap scales with it.
MAX_SAMPLE_RATE = 192_000
# A header's length refuses a recording before decoding only beyond HEADER_SLACK x the limit (+ 1 s): an MP3
# without a Xing frame has its length estimated from its first frame's bitrate, which a VBR file can miss by 2x.
HEADER_SLACK = 2.0
# Frames read per block (per channel): 2 MB of float32 for 8 channels.
BLOCK_FRAMES = 1 << 16
# The loudness reported for digital silence (log10(0) is -inf, which JSON cannot carry).
SILENCE_DBFS = -120.0


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
    # True when the recording goes on beyond the `max_seconds` decoded (decode(..., max_seconds=...)).
    truncated: bool = False

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class AudioInfo:
    """What a container says about its audio before decoding. `duration` may be missing, estimated or false."""

    container: str
    sample_rate: int
    channels: int
    duration: float | None


@dataclass(frozen=True)
class AudioReport:
    duration: float
    speech_ratio: float
    rms_dbfs: float  # SILENCE_DBFS for digital silence, never -inf
    peak: float
    clipped_ratio: float


Blocks = Iterator[np.ndarray]


@contextlib.contextmanager
def _soundfile_source(data: bytes) -> Iterator[tuple[AudioInfo, Blocks]]:
    with sf.SoundFile(io.BytesIO(data)) as f:
        # libsndfile reports an unknown length (a FLAC stream without its total) as 0 or as a huge count.
        known = 0 < f.frames < 1 << 62
        info = AudioInfo(f.format.lower(), f.samplerate, f.channels, f.frames / f.samplerate if known else None)

        def blocks() -> Blocks:
            while True:
                block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if not len(block):
                    return
                yield block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)

        yield info, blocks()


@contextlib.contextmanager
def _av_source(data: bytes) -> Iterator[tuple[AudioInfo, Blocks]]:
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise ValueError("no audio stream")
        duration = None
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        rate = stream.rate or 48000
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)

        def blocks() -> Blocks:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1)

        name = container.format.name.split(",")[0]
        yield AudioInfo(name, rate, stream.channels or 1, duration), blocks()


def _too_long(seconds: float | None, limit: float) -> AudioRejected:
    if seconds is not None and seconds > limit:
        message = f"The recording is {seconds:.1f} s; it must be at most {limit:g} s."
        return AudioRejected("audio_too_long", message, seconds=round(seconds, 2), max_seconds=limit)
    message = f"The recording is longer than {limit:g} s; it must be at most {limit:g} s."
    return AudioRejected("audio_too_long", message, seconds=None, max_seconds=limit)


def _read(info: AudioInfo, blocks: Blocks, keep_seconds: float) -> tuple[np.ndarray, bool]:
    """Mono samples up to `keep_seconds`, and whether the audio went on beyond them."""
    cap = max(0, math.ceil(keep_seconds * info.sample_rate))
    # np.empty of a large size maps memory the process only holds once written: the buffer costs what it holds.
    buffer = np.empty(cap, dtype=np.float32)
    filled = 0
    for block in blocks:
        if not np.isfinite(block).all():
            raise ValueError("non-finite samples")
        take = min(len(block), cap - filled)
        buffer[filled : filled + take] = block[:take]
        filled += take
        if take < len(block):
            return buffer[:filled], True
    return buffer[:filled], False


def _decode(data: bytes, *, keep_seconds: float, refuse_over: float | None) -> tuple[DecodedAudio, AudioInfo]:
    """Decode at most `keep_seconds` of `data`. With `refuse_over`, a header far longer than it refuses the file
    before decoding (audio_too_long). Returns the audio and what its header said."""
    if not data:
        raise AudioRejected("audio_unreadable", "The file is empty.")
    errors = []
    for source in (_soundfile_source, _av_source):
        try:
            with source(data) as (info, blocks):
                if not 0 < info.sample_rate <= MAX_SAMPLE_RATE:
                    raise AudioRejected(
                        "audio_unreadable",
                        f"The recording's sample rate ({info.sample_rate} Hz) is not supported.",
                        sample_rate=info.sample_rate,
                    )
                far_too_long = refuse_over is not None and (info.duration or 0.0) > refuse_over * HEADER_SLACK + 1.0
                if far_too_long:
                    raise _too_long(info.duration, refuse_over)
                samples, truncated = _read(info, blocks, keep_seconds)
        except AudioRejected:
            raise
        except Exception as exc:
            errors.append(f"{source.__name__}: {exc}")
            continue
        if samples.size:
            return DecodedAudio(samples, info.sample_rate, info.container, truncated), info
        errors.append(f"{source.__name__}: no audio samples")
    raise AudioRejected("audio_unreadable", "The file is not audio we can read.", reasons=errors[-2:])


def decode(data: bytes, *, max_seconds: float | None = None) -> DecodedAudio:
    """Decode any supported recording to mono float32, or raise AudioRejected(`audio_unreadable`).

    With `max_seconds`, only the first `max_seconds` are decoded (the rest is never held in memory) and
    `truncated` says whether there was more. Without it, a recording longer than HARD_MAX_SECONDS is refused
    (`audio_too_long`).
    """
    if max_seconds is not None:
        return _decode(data, keep_seconds=max_seconds, refuse_over=None)[0]
    decoded, info = _decode(data, keep_seconds=HARD_MAX_SECONDS, refuse_over=HARD_MAX_SECONDS)
    if decoded.truncated:
        raise _too_long(info.duration, HARD_MAX_SECONDS)
    return decoded


SpeechDetector = Callable[[np.ndarray, int], float]
"""Returns the share of the audio (mono float32 at the given rate) that is speech, 0..1."""


def _rms(samples: np.ndarray) -> float:
    total = 0.0
    for start in range(0, samples.size, 1 << 20):  # in float64, a block at a time
        block = samples[start : start + (1 << 20)].astype(np.float64)
        total += float(block @ block)
    return math.sqrt(total / samples.size) if samples.size else 0.0


def analyse(decoded: DecodedAudio, speech_detector: SpeechDetector) -> tuple[AudioReport, np.ndarray]:
    """Measure a decoded recording; returns the report and the samples resampled to ANALYSIS_RATE."""
    mono16k = resample(decoded.samples, decoded.sample_rate, ANALYSIS_RATE)
    rms = _rms(decoded.samples)
    report = AudioReport(
        duration=decoded.duration,
        speech_ratio=speech_detector(mono16k, ANALYSIS_RATE) if mono16k.size else 0.0,
        rms_dbfs=max(20 * math.log10(rms), SILENCE_DBFS) if rms > 0 else SILENCE_DBFS,
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
    # Refused from its header when far too long; otherwise decoded up to the limit and refused if there is more.
    decoded, info = _decode(data, keep_seconds=limits.max_seconds, refuse_over=limits.max_seconds)
    if decoded.truncated:
        raise _too_long(info.duration, limits.max_seconds)
    if decoded.duration < limits.min_seconds:
        raise AudioRejected(
            "audio_too_short",
            f"The recording is {decoded.duration:.1f} s; it must be at least {limits.min_seconds:g} s.",
            seconds=round(decoded.duration, 2),
            min_seconds=limits.min_seconds,
        )
    report, _ = analyse(decoded, speech_detector)
    if report.rms_dbfs < limits.min_rms_dbfs:
        raise AudioRejected(
            "audio_too_quiet",
            "The recording is too quiet. Move closer to the microphone.",
            rms_dbfs=round(report.rms_dbfs, 1),
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
