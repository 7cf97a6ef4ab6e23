"""`odiadev` run as a shell user runs it (a child process configured by ODIADEV_API_KEY / ODIADEV_BASE_URL) against
the live stack. Exit codes: 0 done, 1 the API refused, 2 a usage error."""

from __future__ import annotations

import json
import uuid

import pytest
import srt
import webvtt

from .conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_say_writes_the_format_its_extension_names_and_the_job_is_listed(stack, customer_key, tmp_path):
    said = run_cli(
        stack,
        customer_key,
        "--json",
        "say",
        "The command line speaks.",
        "--voice",
        "joe",
        "-o",
        "out.mp3",
        cwd=tmp_path,
    )
    assert said.returncode == 0, said.stderr
    job = json.loads(said.stdout)
    audio = (tmp_path / "out.mp3").read_bytes()

    jobs = run_cli(stack, customer_key, "jobs", "--limit", "1")
    voices = run_cli(stack, customer_key, "voices")
    usage = run_cli(stack, customer_key, "usage")

    assert job["format"] == "mp3"
    assert audio[:3] == b"ID3" or audio[0] == 0xFF
    assert len(audio) == job["audio_bytes"]
    assert "out.mp3" in said.stderr
    assert jobs.returncode == 0
    assert jobs.stdout.split("\t")[0] == job["id"]
    assert jobs.stdout.count("\n") == 1
    assert voices.returncode == 0
    assert "joe" in [line.split("\t")[0] for line in voices.stdout.splitlines()]
    assert usage.returncode == 0
    assert f"used:      {job['characters']} of" in usage.stdout

    captions = run_cli(stack, customer_key, "captions", job["id"])  # said without --timestamps
    assert captions.returncode == 1
    assert "(captions_unavailable)" in captions.stderr


def test_captions_of_a_timed_job_as_srt_on_stdout_and_vtt_in_a_file(stack, customer_key, tmp_path):
    said = run_cli(
        stack,
        customer_key,
        "--json",
        "say",
        "Captions, word by word. Then ₦2,500!",
        "-o",
        "a.wav",
        "--timestamps",
        cwd=tmp_path,
    )
    assert said.returncode == 0, said.stderr
    job = json.loads(said.stdout)

    as_srt = run_cli(stack, customer_key, "captions", job["id"])
    as_vtt = run_cli(stack, customer_key, "captions", job["id"], "--format", "vtt", "-o", "a.vtt", cwd=tmp_path)

    assert [w["text"] for w in job["words"]] == ["Captions,", "word", "by", "word.", "Then", "₦2,500!"]
    assert as_srt.returncode == 0, as_srt.stderr
    cues = list(srt.parse(as_srt.stdout))
    assert [cue.content for cue in cues] == ["Captions, word by word.", "Then ₦2,500!"]
    assert cues[-1].end.total_seconds() == pytest.approx(job["words"][-1]["end"], abs=0.002)
    assert as_vtt.returncode == 0, as_vtt.stderr
    assert [c.text for c in webvtt.read(str(tmp_path / "a.vtt")).captions] == [cue.content for cue in cues]


def test_api_errors_exit_1_with_message_and_code_on_stderr(stack, customer_key, tmp_path):
    unknown_job = run_cli(stack, customer_key, "captions", str(uuid.uuid4()))
    bad_key = run_cli(stack, "odiadev_not_a_key", "voices")
    refused = run_cli(stack, customer_key, "say", "Hi.", "-o", "x.wav", "--sample-rate", "12345", cwd=tmp_path)

    assert (unknown_job.returncode, unknown_job.stdout) == (1, "")
    assert "(not_found)" in unknown_job.stderr
    assert bad_key.returncode == 1
    assert "(authentication_failed)" in bad_key.stderr
    assert refused.returncode == 1
    assert "(invalid_sample_rate)" in refused.stderr


def test_usage_errors_exit_2_before_any_request(stack, customer_key, tmp_path):
    no_key = run_cli(stack, None, "voices")
    unknown_extension = run_cli(stack, customer_key, "say", "Hi.", "-o", "out.xyz", cwd=tmp_path)
    missing_output = run_cli(stack, customer_key, "say", "Hi.")
    unknown_command = run_cli(stack, customer_key, "dance")

    assert no_key.returncode == 2
    assert "ODIADEV_API_KEY" in no_key.stderr
    assert unknown_extension.returncode == 2
    assert "--format" in unknown_extension.stderr
    assert not (tmp_path / "out.xyz").exists()
    assert missing_output.returncode == 2
    assert unknown_command.returncode == 2
