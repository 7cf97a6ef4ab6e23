"""Encoding: every format at every sample rate the product allows decodes back at that rate, with the duration
and the speech it was given; mp3 is written at the bitrate asked for."""

import io

import numpy as np
import pytest
import soundfile as sf

from speech.audio import encode, resample, stitch
from speech.engines.base import PcmChunk
from speech.errors import UnsupportedFormat
from synthesis.formats import OUTPUT_FORMATS, mp3_bitrates_at, output_bitrate
from tests.support.media import mp3_frame_bitrates, pcm16le_decode, speech, ulaw_decode

PIPER_RATE = 22050
TEXT = "Delivery formats, rates and bitrates. Every one of them should sound like this."
CONTAINERS = {"wav": "WAV", "mp3": "MP3", "ogg": "OGG", "flac": "FLAC"}
ALLOWED = [(fmt, rate) for fmt, spec in OUTPUT_FORMATS.items() for rate in spec.sample_rates]


@pytest.fixture(scope="module")
def voice():
    """Real Piper speech at Piper's own rate, trimmed to 2 s so the whole matrix stays fast."""
    return speech(TEXT, rate=PIPER_RATE)[: 2 * PIPER_RATE]


def _decode(data: bytes, fmt: str, rate: int) -> tuple[np.ndarray, int]:
    if fmt == "pcm":
        return pcm16le_decode(data), rate
    if fmt == "ulaw":
        return ulaw_decode(data), rate
    info = sf.info(io.BytesIO(data))
    assert info.format == CONTAINERS[fmt]
    decoded, decoded_rate = sf.read(io.BytesIO(data), dtype="float32")
    return decoded, decoded_rate


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Peak normalised cross-correlation within ±50 ms (codecs delay the signal a little)."""
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    spectrum = np.fft.irfft(np.fft.rfft(a, 2 * n) * np.conj(np.fft.rfft(b, 2 * n)))
    lag = n // 40
    peak = max(np.abs(spectrum[: lag + 1]).max(), np.abs(spectrum[-lag:]).max())
    return float(peak / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize(("fmt", "rate"), ALLOWED, ids=[f"{fmt}-{rate}" for fmt, rate in ALLOWED])
def test_every_allowed_format_and_rate_decodes_at_that_rate_and_duration(voice, fmt, rate):
    bitrate = output_bitrate(fmt, rate)

    data = encode(voice, PIPER_RATE, fmt, target_rate=rate, bitrate=bitrate)

    decoded, decoded_rate = _decode(data, fmt, rate)
    assert decoded_rate == rate
    # Exact here (the LAME tag and Opus's pre-skip say where the audio ends); a decoder that ignores them adds
    # part of a frame. The raw and lossless formats are exact to the sample.
    tolerance = 0.03 if fmt in {"mp3", "ogg"} else 1 / rate
    assert abs(len(decoded) / rate - 2.0) <= tolerance
    expected = resample(voice, PIPER_RATE, rate)
    assert _similarity(decoded, expected) > (0.95 if fmt in {"mp3", "ogg"} else 0.99)


def test_ulaw_is_raw_g711_at_8khz():
    silence = np.zeros(800, dtype=np.float32)

    data = encode(silence, 8000, "ulaw", target_rate=8000)

    assert data == b"\xff" * 800  # G.711's zero: one byte a sample, no header
    loud = encode(np.full(8, 0.99, dtype=np.float32), 8000, "ulaw", target_rate=8000)
    assert loud == b"\x80" * 8  # the largest positive code


def test_pcm_is_headerless_signed_16_bit_little_endian():
    data = encode(np.array([0.5, -0.5, 0.0], dtype=np.float32), 16000, "pcm", target_rate=16000)

    assert data == b"\x00\x40\x00\xc0\x00\x00"


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_mp3_is_written_at_the_bitrate_asked_for_and_size_follows(voice, rate):
    sizes = []
    for bitrate in mp3_bitrates_at(rate):
        data = encode(voice, PIPER_RATE, "mp3", target_rate=rate, bitrate=bitrate)
        assert mp3_frame_bitrates(data) == {bitrate}
        sizes.append(len(data))

    assert sizes == sorted(set(sizes))  # every step up in bitrate makes a bigger file
    # Constant bitrate: 2 s at 32 kbps is about 8 kB.
    assert sizes[0] == pytest.approx(2 * 32_000 / 8, rel=0.15)


def test_mp3_bitrates_over_what_the_rate_allows_are_refused(voice):
    with pytest.raises(UnsupportedFormat):
        encode(voice, PIPER_RATE, "mp3", target_rate=8000, bitrate=128)
    with pytest.raises(UnsupportedFormat):
        encode(voice, PIPER_RATE, "wav", target_rate=PIPER_RATE, bitrate=128)


def test_opus_only_at_its_own_rates(voice):
    with pytest.raises(UnsupportedFormat):
        encode(voice, PIPER_RATE, "ogg", target_rate=22050)


def test_unknown_format_is_refused(voice):
    with pytest.raises(UnsupportedFormat):
        encode(voice, PIPER_RATE, "aiff", target_rate=PIPER_RATE)


def test_stitch_crossfades_each_seam_without_a_jump():
    rate = 1000
    first = PcmChunk(samples=np.full(100, 0.5, dtype=np.float32), sample_rate=rate)
    second = PcmChunk(samples=np.full(100, -0.5, dtype=np.float32), sample_rate=rate)
    third = PcmChunk(samples=np.zeros(50, dtype=np.float32), sample_rate=rate)

    samples, out_rate = stitch([first, second, third], crossfade_seconds=0.010)  # 10 samples per seam

    assert out_rate == rate
    assert samples.size == 100 + 100 + 50 - 2 * 10
    assert np.max(np.abs(np.diff(samples))) < 0.12, "a ramp, not a step, at each seam"
    assert samples[0] == 0.5
    assert samples[-1] == 0.0
    assert stitch([], crossfade_seconds=0.01)[0].size == 0
