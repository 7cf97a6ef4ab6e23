"""Bounded decoding through the real worker path: files that unpack into hours of audio, posted to POST /v1/voices
(a clone upload) and POST /v1/provenance/verify, are refused or judged on their start while the worker's peak
memory grows by less than 100 MB; digital silence is refused as too quiet (a clone) or judged no-speech
(provenance), never a 500.

The worker's memory is read from /proc: its pool process (the pid in its heartbeat; it decodes) and the main
process that receives the task message and hands it on. The peak (VmHWM) is reset to the current size before each
request (`clear_refs` 5), so the growth measured is the request's alone."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import httpx
import numpy as np
import pytest

from accounts.services import api_key_create
from billing.services import plan_assign
from core.heartbeat import workers_alive
from tests.e2e.helpers import bearer
from tests.factories import UserFactory
from tests.speech.test_audio_limits import _eight_channel_silence, _long_low_bitrate_mp3
from tests.support.media import SAMPLE_TEXT, encode_av, encode_sf, speech

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_GROWTH_MB = 100
logger = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return {
        "flac8": _eight_channel_silence(),  # 10 min of 8 x 48 kHz: 0.9 GB as float32
        "mp3-2h": _long_low_bitrate_mp3(),  # 2 h of 8 kbps, 8 kHz: 230 MB as float32
        "silence-8s": encode_sf(np.zeros(8 * 16000, dtype=np.float32), 16000, "WAV"),
    }


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


class PeakGrowth:
    """The growth of a process's peak resident memory (MB) over the duration of a `with` block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> PeakGrowth:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # the peak becomes the current size
        self.start_kb = _status_kb(self.pid, "VmHWM")
        return self

    def __exit__(self, *exc) -> None:
        self.mb = (_status_kb(self.pid, "VmHWM") - self.start_kb) / 1024


@pytest.fixture
def worker_pids(stack) -> tuple[int, int]:
    """(pool process, main process) of the stack's worker that consumes `default`."""
    pool = [w["pid"] for w in workers_alive() if "default" in w["queues"] and w["hostname"] == socket.gethostname()]
    assert len(pool) == 1, workers_alive()
    return pool[0], _status_kb(pool[0], "PPid")


@pytest.fixture
def customer(stack):
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    return api_key_create(user=user, name="limits").secret


def _clone_upload(stack, secret: str, consent: bytes | None) -> httpx.Response:
    """A clone upload with `consent` as the consent recording (None: the challenge's statement, spoken)."""
    challenge = httpx.post(f"{stack.base_url}/v1/voices/consent-challenge", headers=bearer(secret), timeout=30)
    assert challenge.status_code == 201, challenge.text
    if consent is None:
        consent = encode_av(speech(challenge.json()["statement"]), 16000, "webm", "libopus", 48000)
    files = {
        "consent_audio": ("consent.bin", consent, "application/octet-stream"),
        "sample": ("sample.wav", encode_sf(speech(SAMPLE_TEXT), 16000, "WAV", "PCM_16"), "audio/wav"),
    }
    data = {"name": "Limits", "sample_transcript": SAMPLE_TEXT, "challenge_id": challenge.json()["id"]}
    return httpx.post(f"{stack.base_url}/v1/voices", headers=bearer(secret), files=files, data=data, timeout=120)


def _verify(stack, data: bytes) -> httpx.Response:
    return httpx.post(f"{stack.base_url}/v1/provenance/verify", files={"audio": ("f.bin", data)}, timeout=120)


def _measured(worker_pids, send) -> tuple[httpx.Response, float, float]:
    pool, main = worker_pids
    with PeakGrowth(pool) as in_pool, PeakGrowth(main) as in_main:
        response = send()
    logger.info("peak growth: pool process %.1f MB, main process %.1f MB", in_pool.mb, in_main.mb)
    return response, in_pool.mb, in_main.mb


@pytest.mark.parametrize(
    ("name", "code"),
    [("flac8", "audio_too_long"), ("mp3-2h", "audio_too_long"), ("silence-8s", "audio_too_quiet")],
)
def test_a_clone_upload_is_refused_while_the_worker_stays_small(stack, worker_pids, customer, files, name, code):
    response, pool_mb, main_mb = _measured(worker_pids, lambda: _clone_upload(stack, customer, files[name]))

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["detail"]["field"] == "consent_audio"
    assert pool_mb < MAX_GROWTH_MB
    assert main_mb < MAX_GROWTH_MB


@pytest.mark.parametrize("name", ["flac8", "mp3-2h"])
def test_provenance_judges_the_start_of_a_huge_file_while_the_worker_stays_small(
    stack, worker_pids, files, name, settings
):
    response, pool_mb, main_mb = _measured(worker_pids, lambda: _verify(stack, files[name]))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["truncated"] is True
    assert body["seconds_analysed"] == settings.PROVENANCE_MAX_SECONDS
    assert body["watermarked"] is False
    assert body["reason"] == "no_speech"  # silence, and a tone: nothing that PerTh's score could mean anything on
    assert pool_mb < MAX_GROWTH_MB
    assert main_mb < MAX_GROWTH_MB


def test_provenance_of_digital_silence_is_no_speech_not_a_500(stack, files):
    response = _verify(stack, files["silence-8s"])

    assert response.status_code == 200, response.text
    assert response.json() | {"seconds_analysed": None} == {
        "watermarked": False,
        "confidence": 0.0,
        "speech_ratio": 0.0,
        "reason": "no_speech",
        "seconds_analysed": None,
        "truncated": False,
    }
    assert response.json()["seconds_analysed"] == 8.0


def test_a_well_formed_clone_upload_still_gets_past_the_limits(stack, customer):
    # The control: the same upload with the statement spoken is not refused by the checks above.
    response = _clone_upload(stack, customer, None)

    assert response.status_code == 202, response.text
