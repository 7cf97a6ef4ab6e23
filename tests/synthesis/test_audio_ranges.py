"""Audio downloads honour Range requests, so players can seek: 206 with the bytes asked for, 416 outside."""

import pytest

from synthesis.runner import synthesis_job_execute
from synthesis.services import synthesis_job_create


@pytest.fixture
def audio(api, user):
    job = synthesis_job_create(user=user, text="Seek through me, please.", voice_id="joe")
    synthesis_job_execute(job_id=job.id)
    whole = api.get(f"/v1/tts/{job.id}/audio")
    assert whole.status_code == 200
    assert whole["Accept-Ranges"] == "bytes"
    return job, b"".join(whole.streaming_content)


def _body(response):
    return b"".join(response.streaming_content)


def test_a_byte_range(api, audio):
    job, whole = audio

    response = api.get(f"/v1/tts/{job.id}/audio", HTTP_RANGE="bytes=100-199")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert response["Content-Type"] == "audio/wav"
    assert _body(response) == whole[100:200]


def test_open_ended_and_suffix_ranges(api, audio):
    job, whole = audio

    tail = api.get(f"/v1/tts/{job.id}/audio", HTTP_RANGE="bytes=1000-")
    last = api.get(f"/v1/tts/{job.id}/audio", HTTP_RANGE="bytes=-500")

    assert _body(tail) == whole[1000:]
    assert _body(last) == whole[-500:]
    assert last["Content-Range"] == f"bytes {len(whole) - 500}-{len(whole) - 1}/{len(whole)}"


def test_a_range_beyond_the_end_is_416(api, audio):
    job, whole = audio

    response = api.get(f"/v1/tts/{job.id}/audio", HTTP_RANGE=f"bytes={len(whole)}-")

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(whole)}"


def test_a_malformed_range_gets_the_whole_file(api, audio):
    job, whole = audio

    response = api.get(f"/v1/tts/{job.id}/audio", HTTP_RANGE="bytes=0-10,20-30")

    assert response.status_code == 200
    assert _body(response) == whole
