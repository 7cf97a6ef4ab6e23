"""Decoding is bounded: a small file that unpacks into hours of multichannel audio is refused, or only its first
seconds are decoded, while the process's memory barely grows; digital silence is too quiet with a detail JSON can
carry."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speech.audio import mp3_stream_piece
from speech.audio_input import SILENCE_DBFS, AudioLimits, AudioRejected, analyse, decode, validate
from speech.vad import speech_ratio
from tests.support.media import SAMPLE_TEXT, encode_sf, mp3_av, speech

ROOT = Path(__file__).resolve().parents[2]
CONSENT_LIMITS = AudioLimits(min_seconds=3, max_seconds=30)
MAX_GROWTH_MB = 100


def _eight_channel_silence(seconds: int = 600, rate: int = 48000) -> bytes:
    """Ten minutes of 8 x 48 kHz digital silence as FLAC: about 240 KB that decode to 0.9 GB of float32."""
    buffer = io.BytesIO()
    block = np.zeros((rate * 10, 8), dtype=np.int16)
    with sf.SoundFile(buffer, "w", rate, 8, format="FLAC", subtype="PCM_16") as f:
        for _ in range(seconds // 10):
            f.write(block)
    return buffer.getvalue()


def _without_length(flac: bytes) -> bytes:
    """The same FLAC with STREAMINFO's total-samples field zeroed: "length unknown", as a stream encoder writes."""
    data = bytearray(flac)
    assert data[:4] == b"fLaC"
    streaminfo = 8  # after "fLaC" and the 4-byte metadata block header
    data[streaminfo + 13] &= 0xF0  # the low 4 bits of byte 13 and bytes 14-17 hold the 36-bit total
    data[streaminfo + 14 : streaminfo + 18] = b"\0\0\0\0"
    return bytes(data)


def _long_low_bitrate_mp3(hours: float = 2.0) -> bytes:
    """Two hours of 8 kbps, 8 kHz MP3 (about 7.2 MB): one minute encoded, its frames repeated."""
    rate = 8000
    t = np.arange(rate * 60) / rate
    minute = mp3_stream_piece(mp3_av((0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, 8000))
    return minute * int(hours * 60)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bounded")
    flac = _eight_channel_silence()
    made = {
        "flac8": flac,
        "flac8-unknown-length": _without_length(flac),
        "mp3-2h": _long_low_bitrate_mp3(),
        "small": encode_sf(np.zeros(1600, dtype=np.float32), 16000, "WAV"),
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in made}


PROBE = """
import json, resource, sys
import numpy as np
from speech.audio_input import AudioLimits, AudioRejected, decode, validate

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

path, mode, warm = sys.argv[1], sys.argv[2], sys.argv[3]
decode(open(warm, "rb").read())  # libraries and codecs loaded before measuring
data = open(path, "rb").read()
before = rss_mb()
result = {}
try:
    if mode == "validate":
        validate(data, AudioLimits(min_seconds=3, max_seconds=30), lambda samples, rate: 1.0)
    else:
        decoded = decode(data, max_seconds=None if mode == "decode" else float(mode))
        result = {"seconds": decoded.duration, "truncated": decoded.truncated}
except AudioRejected as exc:
    result = {"code": exc.code, "detail": exc.detail}
result["growth_mb"] = rss_mb() - before
print(json.dumps(result))
"""


def _in_fresh_process(path: Path, mode: str, warm: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), mode, str(warm)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_files_are_what_the_issue_describes(files):
    assert files["flac8"].stat().st_size < 300_000
    info = sf.info(str(files["flac8"]))
    assert (info.channels, info.samplerate, info.duration) == (8, 48000, 600.0)
    assert 7_000_000 < files["mp3-2h"].stat().st_size < 7_500_000


@pytest.mark.parametrize(
    ("name", "mode", "expected"),
    [
        # Refused from the header, before decoding.
        ("flac8", "validate", {"code": "audio_too_long"}),
        ("mp3-2h", "validate", {"code": "audio_too_long"}),
        # No length in the header: decoded up to the limit, then refused.
        ("flac8-unknown-length", "validate", {"code": "audio_too_long"}),
        # decode() without a limit holds at most HARD_MAX_SECONDS, then refuses.
        ("flac8", "decode", {"code": "audio_too_long"}),
        ("flac8-unknown-length", "decode", {"code": "audio_too_long"}),
        ("mp3-2h", "decode", {"code": "audio_too_long"}),
        # Provenance decodes only the seconds it analyses.
        ("flac8", "60", {"seconds": 60.0, "truncated": True}),
        ("mp3-2h", "60", {"seconds": 60.0, "truncated": True}),
    ],
)
def test_huge_recordings_are_refused_or_cut_while_memory_stays_flat(files, name, mode, expected):
    result = _in_fresh_process(files[name], mode, files["small"])

    assert {key: result.get(key) for key in expected} == expected, result
    assert result["growth_mb"] < MAX_GROWTH_MB, result


def test_refusal_from_the_header_says_how_long_the_recording_is(files):
    with pytest.raises(AudioRejected) as caught:
        validate(files["mp3-2h"].read_bytes(), CONSENT_LIMITS, speech_ratio)

    assert caught.value.code == "audio_too_long"
    assert caught.value.detail == {"seconds": pytest.approx(7223.04, abs=1), "max_seconds": 30}
    assert "7223" in str(caught.value)


def test_a_recording_without_a_header_length_is_judged_by_what_it_holds(files):
    with pytest.raises(AudioRejected) as caught:
        validate(files["flac8-unknown-length"].read_bytes(), CONSENT_LIMITS, speech_ratio)

    assert caught.value.code == "audio_too_long"
    assert caught.value.detail["max_seconds"] == 30


def test_max_seconds_decodes_the_start_only():
    voice = speech(SAMPLE_TEXT)  # about 9 s at 16 kHz
    data = encode_sf(voice, 16000, "FLAC")

    whole = decode(data)
    start = decode(data, max_seconds=2.5)

    assert not whole.truncated
    assert start.truncated
    assert start.duration == 2.5
    np.testing.assert_array_equal(start.samples, whole.samples[:40000])
    assert not decode(data, max_seconds=60).truncated


def test_downmix_of_multichannel_audio_is_the_mean_of_its_channels():
    left = np.full(16000, 0.5, dtype=np.float32)
    stereo = np.stack([left, -left * 0.5], axis=1)

    decoded = decode(encode_sf(stereo, 16000, "WAV", "FLOAT"))

    np.testing.assert_allclose(decoded.samples, 0.125, atol=1e-6)


def test_eight_seconds_of_digital_silence_is_too_quiet_and_json_safe():
    silence = encode_sf(np.zeros(8 * 16000, dtype=np.float32), 16000, "WAV")

    with pytest.raises(AudioRejected) as caught:
        validate(silence, CONSENT_LIMITS, speech_ratio)

    assert caught.value.code == "audio_too_quiet"
    assert caught.value.detail == {"rms_dbfs": SILENCE_DBFS}
    assert json.loads(json.dumps(caught.value.detail, allow_nan=False)) == {"rms_dbfs": -120.0}


def test_the_report_of_silence_is_finite():
    report, _ = analyse(decode(encode_sf(np.zeros(16000, dtype=np.float32), 16000, "WAV")), speech_ratio)

    assert report.rms_dbfs == SILENCE_DBFS
    json.dumps(report.__dict__, allow_nan=False)


def test_an_absurd_sample_rate_is_unreadable():
    data = encode_sf(np.zeros(384000, dtype=np.float32), 384000, "WAV")

    with pytest.raises(AudioRejected) as caught:
        decode(data)

    assert caught.value.code == "audio_unreadable"
