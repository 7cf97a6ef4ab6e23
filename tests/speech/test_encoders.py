"""Speaker encoders: Resemblyzer with its real weights tells speakers apart; ECAPA loads through the production
loader from a local folder (a tiny random model here: no download)."""

import numpy as np
import pytest

from speech.encoders.base import cosine
from speech.encoders.ecapa import EcapaEncoder
from speech.encoders.resemblyzer import ResemblyzerEncoder
from speech.encoders.testing import build_tiny_ecapa
from tests.support.media import CONSENT_TEXT, SAMPLE_TEXT, other_speaker, speech

# The threshold the platform ships for Resemblyzer (settings); the test holds the real model to it.
RESEMBLYZER_THRESHOLD = 0.75


@pytest.fixture(scope="module")
def resemblyzer():
    encoder = ResemblyzerEncoder()
    encoder.load()
    return encoder


def test_resemblyzer_accepts_the_same_speaker_saying_different_things(resemblyzer):
    consent = resemblyzer.embed(speech(CONSENT_TEXT))
    sample = resemblyzer.embed(speech(SAMPLE_TEXT))

    assert cosine(consent, sample) >= RESEMBLYZER_THRESHOLD


def test_resemblyzer_rejects_a_different_speaker(resemblyzer):
    consent = resemblyzer.embed(speech(CONSENT_TEXT))
    impostor = resemblyzer.embed(other_speaker(speech(SAMPLE_TEXT)))

    assert cosine(consent, impostor) < RESEMBLYZER_THRESHOLD


def test_resemblyzer_embeddings_are_unit_length_and_versioned(resemblyzer):
    embedding = resemblyzer.embed(speech(SAMPLE_TEXT))

    assert embedding.shape == (256,)
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)
    assert resemblyzer.version.startswith("resemblyzer==")


@pytest.fixture(scope="module")
def ecapa_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("ecapa")
    return build_tiny_ecapa(root / "a", seed=0), build_tiny_ecapa(root / "b", seed=1)


def test_ecapa_loads_from_a_local_folder_and_embeds(ecapa_folders):
    encoder = EcapaEncoder(ecapa_folders[0])
    encoder.load()

    embedding = encoder.embed(speech(SAMPLE_TEXT))

    assert embedding.shape == (16,)
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)
    assert encoder.version.startswith("ecapa:")
    assert cosine(embedding, encoder.embed(speech(SAMPLE_TEXT))) == pytest.approx(1.0, abs=1e-6)


def test_ecapa_uses_the_weights_in_its_folder(ecapa_folders):
    first, second = (EcapaEncoder(folder) for folder in ecapa_folders)
    audio = speech(SAMPLE_TEXT)

    assert cosine(first.embed(audio), second.embed(audio)) < 0.99
    assert first.version != second.version


def test_ecapa_without_a_model_folder_fails_loudly(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"hyperparams\.yaml"):
        EcapaEncoder(tmp_path / "missing").load()
