"""Uploaded recordings are judged by content: every browser and file format decodes; every problem has its code."""

import io
import struct

import numpy as np
import pytest

from speech.audio_input import AudioLimits, AudioRejected, decode, validate
from speech.vad import speech_ratio
from tests.support.media import SAMPLE_TEXT, encode_av, encode_sf, speech

SAMPLE_LIMITS = AudioLimits(min_seconds=5, max_seconds=60)


@pytest.fixture(scope="module")
def voice():
    return speech(SAMPLE_TEXT)  # about 9 s at 16 kHz


ENCODINGS = {
    "wav": lambda s: encode_sf(s, 16000, "WAV", "PCM_16"),
    "flac": lambda s: encode_sf(s, 16000, "FLAC"),
    "mp3": lambda s: encode_sf(s, 16000, "MP3"),
    "ogg-opus (Firefox)": lambda s: encode_av(s, 16000, "ogg", "libopus", 48000),
    "webm-opus (Chrome)": lambda s: encode_av(s, 16000, "webm", "libopus", 48000),
    "mp4-aac (Safari)": lambda s: encode_av(s, 16000, "mp4", "aac", 44100),
}


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_every_supported_recording_decodes_and_passes(voice, name):
    data = ENCODINGS[name](voice)

    decoded, report = validate(data, SAMPLE_LIMITS, speech_ratio)

    assert abs(decoded.duration - len(voice) / 16000) < 0.1
    assert report.speech_ratio > 0.6


def _rejected(data, limits=SAMPLE_LIMITS) -> AudioRejected:
    with pytest.raises(AudioRejected) as caught:
        validate(data, limits, speech_ratio)
    return caught.value


def test_zero_bytes_is_unreadable():
    assert _rejected(b"").code == "audio_unreadable"


def test_text_file_named_wav_is_unreadable():
    assert _rejected(b"This is a plain text file pretending to be audio.\n" * 50).code == "audio_unreadable"


def test_truncated_file_is_unreadable(voice):
    data = ENCODINGS["webm-opus (Chrome)"](voice)
    assert _rejected(data[:40]).code == "audio_unreadable"


def test_header_that_lies_about_length_is_judged_by_content(voice):
    # A WAV header claiming 60 s of audio over 2 s of samples: what counts is what is there.
    data = bytearray(encode_sf(voice[: 2 * 16000], 16000, "WAV", "PCM_16"))
    data_offset = data.index(b"data") + 4
    struct.pack_into("<I", data, data_offset, 60 * 16000 * 2)
    struct.pack_into("<I", data, 4, 36 + 60 * 16000 * 2)

    error = _rejected(bytes(data))

    assert error.code == "audio_too_short"
    assert error.detail["seconds"] == pytest.approx(2.0, abs=0.05)


def test_too_large_is_refused_before_decoding():
    error = _rejected(b"\0" * 2048, AudioLimits(min_seconds=5, max_seconds=60, max_bytes=1024))
    assert error.code == "audio_too_large"


def test_too_short_and_too_long(voice):
    assert _rejected(encode_sf(voice[: 3 * 16000], 16000, "WAV")).code == "audio_too_short"
    long = np.concatenate([voice] * 8)  # about 74 s
    assert _rejected(encode_sf(long, 16000, "FLAC")).code == "audio_too_long"


def test_noise_is_not_speech():
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(8 * 16000) * 0.1).astype(np.float32)
    assert _rejected(encode_sf(noise, 16000, "WAV")).code == "audio_no_speech"


def test_a_steady_tone_is_not_speech():
    t = np.arange(8 * 16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert _rejected(encode_sf(tone, 16000, "WAV")).code == "audio_no_speech"


def test_clipped_recording(voice):
    clipped = np.clip(voice * 20, -1.0, 1.0)
    assert _rejected(encode_sf(clipped, 16000, "WAV", "FLOAT")).code == "audio_clipped"


def test_too_quiet_recording(voice):
    quiet = voice * 0.002
    assert _rejected(encode_sf(quiet, 16000, "WAV", "FLOAT")).code == "audio_too_quiet"


def test_decode_reports_the_container(voice):
    assert decode(ENCODINGS["webm-opus (Chrome)"](voice)).container == "matroska"
    assert decode(ENCODINGS["wav"](voice)).container == "wav"
    assert decode(io.BytesIO(ENCODINGS["mp4-aac (Safari)"](voice)).getvalue()).sample_rate == 44100
