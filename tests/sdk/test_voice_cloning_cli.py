"""`odiadev challenge` then `odiadev clone`, as tests/voices/test_cloning_flow.py drives the API: the consent
recording reads the challenge's statement. The upload is checked up to its 202 (`verifying`); the consent verdict
itself (tens of seconds of speech recognition) is the voices suite's business. (Last in this folder by name, so the
worker's consent check does not delay the other SDK tests.)"""

from __future__ import annotations

import json

import pytest

from tests.support.media import SAMPLE_TEXT, encode_av, encode_sf, speech
from textnorm.consent_wording import consent_statement
from voices.models import ConsentChallenge

from .conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHRASE = "spruce castle anchor walnut"  # heard reliably by Whisper tiny.en (see the cloning flow tests)


def test_challenge_then_clone_uploads_a_voice_that_goes_to_verification(stack, customer_key, tmp_path):
    challenged = run_cli(stack, customer_key, "--json", "challenge")
    assert challenged.returncode == 0, challenged.stderr
    challenge = json.loads(challenged.stdout)
    row = ConsentChallenge.objects.select_related("user").get(pk=challenge["id"])
    statement = consent_statement(email=row.user.email, phrase=PHRASE)
    ConsentChallenge.objects.filter(pk=row.pk).update(nonce=PHRASE, statement=statement)
    (tmp_path / "consent.webm").write_bytes(encode_av(speech(statement), 16000, "webm", "libopus", 48000))
    (tmp_path / "sample.wav").write_bytes(encode_sf(speech(SAMPLE_TEXT), 16000, "WAV", "PCM_16"))

    cloned = run_cli(
        stack,
        customer_key,
        "clone",
        "--name",
        "Narrator",
        "--sample",
        "sample.wav",
        "--consent",
        "consent.webm",
        "--challenge",
        challenge["id"],
        "--transcript",
        SAMPLE_TEXT,
        cwd=tmp_path,
    )
    reused = run_cli(
        stack,
        customer_key,
        "clone",
        "--name",
        "Again",
        "--sample",
        "sample.wav",
        "--consent",
        "consent.webm",
        "--challenge",
        challenge["id"],
        cwd=tmp_path,
    )

    assert cloned.returncode == 0, cloned.stderr
    voice_id, status = cloned.stdout.split()
    assert status == "verifying"
    assert run_cli(stack, customer_key, "voices").stdout.count(voice_id) == 1
    assert reused.returncode == 1  # a challenge answers one upload
    assert "error:" in reused.stderr
