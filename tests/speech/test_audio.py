"""Encoding to every output format decodes back at the requested rate and duration."""

import io

import numpy as np
import pytest
import soundfile as sf

from speech.audio import encode
from speech.errors import UnsupportedFormat


def _tone(seconds=1.5, rate=22050):
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate


@pytest.mark.parametrize(
    ("fmt", "target_rate", "container"),
    [("wav", 22050, "WAV"), ("mp3", 22050, "MP3"), ("ogg", 48000, "OGG"), ("flac", 22050, "FLAC")],
)
def test_format_decodes_with_expected_rate_and_duration(fmt, target_rate, container):
    samples, rate = _tone()

    data = encode(samples, rate, fmt, target_rate=target_rate)

    info = sf.info(io.BytesIO(data))
    assert info.format == container
    assert info.samplerate == target_rate
    decoded, decoded_rate = sf.read(io.BytesIO(data))
    assert decoded_rate == target_rate
    assert abs(len(decoded) / decoded_rate - 1.5) < 0.08
    assert np.sqrt(np.mean(decoded**2)) > 0.2


def test_unknown_format_is_refused():
    samples, rate = _tone()
    with pytest.raises(UnsupportedFormat):
        encode(samples, rate, "aiff", target_rate=rate)
