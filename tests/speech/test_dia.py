"""Dia through the production loader, on a tiny randomly initialised model and codec saved locally."""

import numpy as np
import pytest

from speech.engines.base import SynthesisRequest, VoicePrompt
from speech.engines.dia import SAMPLE_RATE, DiaEngine, GenerationSettings
from speech.engines.dia_testing import build_tiny_dia
from speech.text import chunk_text, dialogue_chunks


@pytest.fixture(scope="module")
def dia(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("HF_HUB_OFFLINE", "1")
    model_dir, codec_dir = build_tiny_dia(tmp_path_factory.mktemp("dia"))
    engine = DiaEngine(
        model_id=str(model_dir),
        revision="main",
        codec_id=str(codec_dir),
        generation=GenerationSettings(max_new_tokens=24, chunk_seconds=4),
    )
    engine.load()
    return engine


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _speak(dia, text, **kwargs):
    return list(dia.synthesize(SynthesisRequest(text=text, voice="dia", **kwargs)))


def test_loads_on_cpu_in_float32(dia):
    assert dia.device == "cpu"
    assert dia.dtype_name == "float32"
    assert dia.vram() == {"used_gb": 0.0, "peak_gb": 0.0, "budget_gb": 14.5, "over_budget": False}


def test_cloned_synthesis_returns_44k_audio(dia):
    prompt = VoicePrompt(
        audio=(np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE) * 0.1).astype(np.float32),
        transcript="[S1] This is how I sound.",
    )

    chunks = _speak(dia, "Say this in my voice.", seed=7, prompt=prompt)

    assert len(chunks) == 1
    assert chunks[0].sample_rate == 44100
    assert chunks[0].samples.dtype == np.float32
    assert chunks[0].samples.size > 0


def test_dialogue_and_nonverbals_are_accepted(dia):
    chunks = _speak(dia, "[S1] Did you hear that? (laughs) [S2] I did!", seed=1)

    assert chunks
    assert all(chunk.sample_rate == 44100 for chunk in chunks)
    assert all(chunk.samples.size > 0 for chunk in chunks)


def test_a_generation_too_short_to_decode_is_empty_audio_not_a_crash(dia):
    short = GenerationSettings(max_new_tokens=4, chunk_seconds=4)
    dia.generation, saved = short, dia.generation
    try:
        chunks = _speak(dia, "[S1] Stop.", seed=3)
    finally:
        dia.generation = saved

    assert [chunk.samples.size for chunk in chunks] == [0]


def test_same_seed_same_audio(dia):
    first = _speak(dia, "[S1] Repeatable output.", seed=42)
    second = _speak(dia, "[S1] Repeatable output.", seed=42)

    assert np.array_equal(first[0].samples, second[0].samples)


def test_long_text_is_chunked_at_sentences_and_every_chunk_is_spoken(dia):
    text = " ".join(f"This is sentence number {n} of a longer text." for n in range(1, 9))

    chunks = dia.segments(text)
    audio = _speak(dia, text, seed=3)

    assert len(chunks) > 2
    assert all(chunk.startswith("[S1] ") and chunk.endswith(".") for chunk in chunks)
    assert len(audio) == len(chunks)
    stitched = np.concatenate([chunk.samples for chunk in audio])
    assert stitched.size == sum(chunk.samples.size for chunk in audio)


def test_chunking_keeps_order_and_bounds():
    text = "First one. Second one is longer! Third?\n\nNew paragraph here. " + "word " * 40
    chunks = chunk_text(text, 60)

    assert all(len(chunk) <= 60 for chunk in chunks)
    assert " ".join(chunks).split() == text.split()
    assert chunks[0] == "First one. Second one is longer! Third?"


def test_dialogue_chunks_repeat_the_current_speaker():
    chunks = dialogue_chunks("[S1] Hello there. [S2] Hi. How are you? I am fine, thanks for asking. Really.", 40)

    assert all(chunk.startswith(("[S1]", "[S2]")) for chunk in chunks)
    assert chunks[0].startswith("[S1]")
    assert chunks[-1].startswith("[S2]")
    assert dialogue_chunks("No tags at all.", 100) == ["[S1] No tags at all."]
