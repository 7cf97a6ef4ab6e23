"""Idempotency-Key on the job-creating endpoints: a retried request gets the first job and is billed once.

In this process (no worker): the rules of the key. The live stack (parallel clients, audio replays, capture) is in
test_idempotency_e2e.py."""

import json
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create
from billing.models import EntryKind, LedgerEntry
from billing.services import plan_assign
from synthesis.idempotency import IdempotentRequest, idempotency_keys_purge, request_fingerprint
from synthesis.models import IdempotencyKey, SynthesisJob
from synthesis.services import synthesis_job_create

BODY = {"text": "Charge me once, however often I ask.", "voice_id": "joe", "format": "mp3"}


@pytest.fixture
def pro(user):
    plan_assign(user=user, slug="pro")  # five jobs at a time: a second job is never refused for a slot
    return user


def _post(client, body, key=None, path="/v1/tts"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def _reserves(user) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account__user=user, kind=EntryKind.RESERVE))


def test_same_key_and_body_answers_the_first_job_and_bills_once(api, pro):
    first = _post(api, BODY, key="retry-1")
    # (the same JSON with its keys in another order is the same request)
    second = _post(api, dict(reversed(list(BODY.items()))), key="retry-1")

    assert first.status_code == 202, first.content
    assert second.status_code == 202, second.content
    assert second.json()["id"] == first.json()["id"]
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert SynthesisJob.objects.filter(user=pro).count() == 1
    reserves = _reserves(pro)
    assert [(r.job_id, r.amount) for r in reserves] == [(SynthesisJob.objects.get().id, -len(BODY["text"]))]


def test_without_a_key_each_request_is_a_new_job(api, pro):
    first, second = _post(api, BODY), _post(api, BODY)

    assert first.json()["id"] != second.json()["id"]
    assert len(_reserves(pro)) == 2


def test_same_key_with_another_body_is_409_and_creates_nothing(api, pro):
    first = _post(api, BODY, key="retry-2")

    other = _post(api, {**BODY, "text": "Something else entirely."}, key="retry-2")

    assert other.status_code == 409, other.content
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["detail"] == {"job_id": first.json()["id"]}
    assert SynthesisJob.objects.filter(user=pro).count() == 1
    assert len(_reserves(pro)) == 1


def test_same_key_on_another_endpoint_is_409(api, pro):
    _post(api, BODY, key="retry-3")

    other = _post(api, {"input": BODY["text"], "voice": "joe"}, key="retry-3", path="/v1/audio/speech")

    assert other.status_code == 409, other.content
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert SynthesisJob.objects.filter(user=pro).count() == 1


def test_keys_are_per_account(api, pro, other_user):
    plan_assign(user=other_user, slug="pro")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=other_user, name='other').secret}")

    mine = _post(api, BODY, key="shared-key")
    theirs = _post(other, BODY, key="shared-key")
    # and another body under the same key is no conflict across accounts either
    theirs_again = _post(other, BODY, key="shared-key")

    assert mine.status_code == theirs.status_code == 202
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs_again.json()["id"] == theirs.json()["id"]
    assert SynthesisJob.objects.get(pk=theirs.json()["id"]).user == other_user
    assert len(_reserves(pro)) == len(_reserves(other_user)) == 1


def test_a_key_older_than_24_hours_starts_a_new_job(api, pro):
    first = _post(api, BODY, key="old-key")
    IdempotencyKey.objects.filter(key="old-key").update(created_at=timezone.now() - timedelta(hours=24, seconds=1))

    again = _post(api, BODY, key="old-key")
    # and the new job is what the key answers from now on
    replay = _post(api, BODY, key="old-key")

    assert again.status_code == 202
    assert again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again.headers
    assert replay.json()["id"] == again.json()["id"]
    assert IdempotencyKey.objects.filter(user=pro).count() == 1
    assert len(_reserves(pro)) == 2


def test_a_key_just_inside_24_hours_still_answers(api, pro):
    first = _post(api, BODY, key="young-key")
    IdempotencyKey.objects.filter(key="young-key").update(created_at=timezone.now() - timedelta(hours=23, minutes=59))

    assert _post(api, BODY, key="young-key").json()["id"] == first.json()["id"]


def test_purge_forgets_only_expired_keys(api, pro):
    _post(api, BODY, key="expired")
    _post(api, BODY, key="live")
    IdempotencyKey.objects.filter(key="expired").update(created_at=timezone.now() - timedelta(hours=25))

    assert idempotency_keys_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["live"]
    assert SynthesisJob.objects.filter(user=pro).count() == 2  # the jobs stay


@pytest.mark.parametrize("key", ["", "k" * 256, "line\nbreak"])
def test_a_malformed_key_is_400_invalid_request(api, pro, key):
    response = _post(api, BODY, key=key)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_request"
    assert SynthesisJob.objects.count() == 0
    assert IdempotencyKey.objects.count() == 0


def test_a_key_of_255_characters_is_accepted(api, pro):
    key = "k" * 255
    first, second = _post(api, BODY, key=key), _post(api, BODY, key=key)

    assert first.status_code == 202
    assert second.json()["id"] == first.json()["id"]


def test_a_refused_request_stores_no_key(api, pro):
    # an invalid body is refused before any job: the key is not spent, and the corrected retry is a new request
    refused = _post(api, {**BODY, "format": "aiff"}, key="fix-and-retry")
    fixed = _post(api, BODY, key="fix-and-retry")

    assert refused.status_code == 400
    assert fixed.status_code == 202
    assert SynthesisJob.objects.count() == 1


def test_losing_the_key_race_rolls_back_everything(pro):
    # given a request that created its job with a key (committed: another request's transaction)
    request = IdempotentRequest(key="race", fingerprint=request_fingerprint(path="/v1/tts", data=BODY))
    winner = synthesis_job_create(user=pro, text=BODY["text"], voice_id="joe", idempotency=request)

    # when a parallel request that missed it claims the same key in its own transaction
    with pytest.raises(IntegrityError):
        synthesis_job_create(user=pro, text=BODY["text"], voice_id="joe", idempotency=request)

    # then nothing of the loser remains: one job, one reservation, the key still names the winner's job
    assert list(SynthesisJob.objects.values_list("id", flat=True)) == [winner.id]
    assert len(_reserves(pro)) == 1
    assert IdempotencyKey.objects.get().job_id == winner.id
