"""Text-in streaming on the live stack (/ws/tts/: Daphne, a Celery worker with Piper, Redis): text sent in random
pieces is spoken a sentence at a time, in order, while more text arrives; the audio matches a POST /v1/tts of the
same text; the ledger bills exactly the pieces spoken, also when the client interrupts; contexts share a socket;
a quiet context ends itself; the socket authenticates as /ws/jobs/ does."""

from __future__ import annotations

import itertools
import os
import random
import signal
import time

import httpx
import pytest
from django.core.files.storage import default_storage
from django.db.models import Sum

from accounts.services import api_key_create
from billing.models import LedgerEntry
from billing.services import account_refresh, plan_assign, usage_adjust
from billing.storage import storage_used_for
from core.heartbeat import worker_is_alive
from synthesis.models import SynthesisJob
from synthesis.sweeper import synthesis_jobs_sweep
from tests.e2e.helpers import bearer, submit
from tests.factories import UserFactory

from .live_client import LiveSocket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SENTENCES = [
    "The morning train left the station exactly on time.",
    "Passengers settled into their seats with coffee and newspapers.",
    "Outside, the fields rolled past in shades of green and gold.",
    "A conductor walked slowly through the carriages checking tickets.",
    "Somewhere near the back, a child was laughing at a cartoon.",
    "By noon the city skyline appeared on the horizon.",
]
TEXT = " ".join(SENTENCES)
RATE = 22050  # the joe voice's own rate: pcm at the default sample rate


@pytest.fixture
def account():
    user = UserFactory()
    plan_assign(user=user, slug="pro")  # five job slots: two contexts and a POST at once
    return user, api_key_create(user=user, name="live").secret


def _socket(stack, secret: str) -> LiveSocket:
    socket = LiveSocket(f"{stack.ws_url}/ws/tts/?api_key={secret}")
    socket.wait_for(lambda m: m["type"] == "hello", 30)
    return socket


def _open(socket: LiveSocket, context_id: str, **options) -> dict:
    socket.send(type="context.open", context_id=context_id, **{"voice_id": "joe", "format": "pcm", **options})
    return socket.wait_for(lambda m: m.get("context_id") == context_id and m["type"] in ("context.opened", "error"))


def _billed(live_job_id: str) -> int:
    """Characters the ledger took for the live job: its pieces' entries (reserve, capture, release) summed."""
    pieces = SynthesisJob.objects.filter(parent_id=live_job_id)
    return -(LedgerEntry.objects.filter(job__in=pieces).aggregate(total=Sum("amount"))["total"] or 0)


def _random_pieces(text: str, count: int, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), count - 1))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def _final(job_id: str, timeout: float = 60) -> SynthesisJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = SynthesisJob.objects.get(pk=job_id)
        if job.is_final:
            return job
        time.sleep(0.2)
    raise AssertionError(f"live job {job_id} not final after {timeout}s")


def test_text_in_random_pieces_is_spoken_sentence_by_sentence_and_billed_as_spoken(stack, account):
    _user, secret = account
    rng = random.Random(17)
    pieces = _random_pieces(TEXT, 40, rng)
    socket = _socket(stack, secret)
    try:
        opened = _open(socket, "c1")
        assert opened["type"] == "context.opened", opened
        assert opened["sample_rate"] == RATE

        # when: the text goes out in 40 pieces with random pauses, as an LLM writes it
        sent_at = []
        for piece in pieces:
            sent_at.append(socket.send(type="text", context_id="c1", text=piece))
            time.sleep(rng.uniform(0.0, 0.2))
        last_sent = sent_at[-1]
        socket.send(type="close", context_id="c1")
        done = socket.done("c1")
    finally:
        socket.close()

    # then: sentence 1 was heard while the client was still writing
    assert socket.first_audio_at[("c1", 0)] < last_sent, "the first sentence's audio came only after the last piece"
    # every sentence was spoken once, in order, with its alignment on one timeline
    alignments = socket.of("c1", "alignment")
    assert [a["text"] for a in alignments] == SENTENCES
    assert [a["piece"] for a in alignments] == list(range(6))
    assert alignments[0]["start"] == 0.0
    assert all(a["end"] > a["start"] for a in alignments)
    assert all(b["start"] == a["end"] for a, b in itertools.pairwise(alignments))
    assert sorted(socket.audio["c1"]) == list(range(6))
    assert socket.protocol_errors == []
    assert done["reason"] == "closed"
    assert done["pieces"] == 6

    # the audio is the same speech as one POST of the whole text. Piper draws its noise afresh on every run (the
    # same sentence twice differs by a few percent in length), so samples cannot be compared: durations are, within
    # 10%. (pcm: 16-bit mono, so the duration is bytes / 2 / rate; the socket's pieces join without crossfades.)
    live_seconds = len(socket.joined_audio("c1")) / 2 / RATE
    posted = submit(stack, secret, text=TEXT, voice_id="joe", format="pcm", wait=True).json()
    assert posted["status"] == "succeeded", posted
    post_audio = httpx.get(posted["audio_url"], timeout=30).content
    post_seconds = len(post_audio) / 2 / RATE
    assert abs(live_seconds - post_seconds) / post_seconds < 0.10, (live_seconds, post_seconds)
    assert alignments[-1]["end"] == pytest.approx(live_seconds, abs=0.05)

    # characters billed (the ledger, piece by piece) are the characters spoken, which `done` reports
    spoken = sum(len(s) for s in SENTENCES)
    assert done["characters"] == spoken
    assert _billed(done["job_id"]) == spoken
    assert not LedgerEntry.objects.filter(job_id=done["job_id"]).exists()  # (the live job itself bills nothing)

    # the live job is one job: listed (its pieces are not), assembled into one stored file, owned by its account
    job = _final(done["job_id"])
    assert job.status == "succeeded"
    assert job.characters == spoken
    assert job.text == TEXT
    listed = httpx.get(f"{stack.base_url}/v1/tts", headers=bearer(secret), timeout=30).json()["results"]
    assert {j["id"] for j in listed} == {done["job_id"], posted["id"]}
    detail = httpx.get(f"{stack.base_url}/v1/tts/{done['job_id']}", headers=bearer(secret), timeout=30).json()
    stored = httpx.get(detail["audio_url"], timeout=30).content
    assert abs(len(stored) / 2 / RATE - post_seconds) / post_seconds < 0.10

    # another account cannot see it
    stranger = api_key_create(user=UserFactory(), name="stranger").secret
    for path in (f"/v1/tts/{done['job_id']}", f"/v1/tts/{done['job_id']}/audio"):
        assert httpx.get(f"{stack.base_url}{path}", headers=bearer(stranger), timeout=30).status_code == 404
    assert done["job_id"] not in httpx.get(f"{stack.base_url}/v1/tts", headers=bearer(stranger), timeout=30).text


def test_cancel_stops_synthesis_and_bills_only_what_was_spoken(stack, account):
    _, secret = account
    socket = _socket(stack, secret)
    try:
        assert _open(socket, "c1")["type"] == "context.opened"
        socket.send(type="text", context_id="c1", text=TEXT + " " + TEXT + " ")  # twelve sentences at once
        socket.wait_for(lambda m: m["type"] == "alignment" and m["context_id"] == "c1")
        cancelled_at = socket.send(type="cancel", context_id="c1")
        done = socket.done("c1")
        time.sleep(2)  # anything still on its way would arrive now
    finally:
        socket.close()

    assert done["reason"] == "cancelled"
    pieces = SynthesisJob.objects.filter(parent_id=done["job_id"])
    made = pieces.filter(status="succeeded")
    assert pieces.count() == 12
    assert 1 <= made.count() < 12
    assert set(pieces.exclude(status="succeeded").values_list("status", flat=True)) == {"cancelled"}
    # billed: exactly the pieces made; every piece whose audio the client heard is among them
    spoken = sum(made.values_list("characters", flat=True))
    assert done["characters"] == spoken == _billed(done["job_id"])
    assert spoken < 2 * len(TEXT)
    assert set(socket.audio["c1"]) <= set(made.values_list("piece", flat=True))
    # nothing was sent for the context after its `done`
    assert not [m for m in socket.messages if m.get("context_id") == "c1" and m["_at"] > done["_at"]]
    job = _final(done["job_id"])
    assert job.status == "succeeded"
    assert job.characters == spoken
    assert cancelled_at < done["_at"]


def test_two_contexts_share_one_socket(stack, account):
    _, secret = account
    socket = _socket(stack, secret)
    try:
        assert _open(socket, "a")["type"] == "context.opened"
        assert _open(socket, "b", speed=1.5)["type"] == "context.opened"
        for first, second in zip(SENTENCES[:3], SENTENCES[3:], strict=True):
            socket.send(type="text", context_id="a", text=first + " ")
            socket.send(type="text", context_id="b", text=second + " ")
        socket.send(type="close", context_id="a")
        socket.send(type="close", context_id="b")
        done_a, done_b = socket.done("a"), socket.done("b")
    finally:
        socket.close()

    assert done_a["job_id"] != done_b["job_id"]
    assert [m["text"] for m in socket.of("a", "alignment")] == SENTENCES[:3]
    assert [m["text"] for m in socket.of("b", "alignment")] == SENTENCES[3:]
    assert sorted(socket.audio["a"]) == sorted(socket.audio["b"]) == [0, 1, 2]
    assert socket.protocol_errors == []  # every frame came right after its own context's header
    assert _final(done_b["job_id"]).speed == 1.5


def test_a_contexts_storage_is_its_joined_file_and_its_pieces_files_go(stack, account):
    user, secret = account
    # given: the first sentence already made by a POST (so the context's piece 0 is a cache hit sharing its file)
    posted = submit(stack, secret, text=SENTENCES[0], voice_id="joe", format="pcm", wait=True).json()
    assert posted["status"] == "succeeded", posted
    socket = _socket(stack, secret)
    try:
        assert _open(socket, "s")["type"] == "context.opened"
        socket.send(type="text", context_id="s", text=" ".join(SENTENCES[:3]) + " ")
        socket.send(type="close", context_id="s")
        done = socket.done("s")
    finally:
        socket.close()
    job = _final(done["job_id"])
    assert job.status == "succeeded"

    # then: the account stores the POST's file and the context's joined file, nothing twice
    made = SynthesisJob.objects.get(pk=posted["id"])
    assert storage_used_for(user=user) == made.audio_bytes + job.audio_bytes
    # the pieces let their audio go; the synthesized pieces' files are deleted, the shared one stays with the POST's
    pieces = list(SynthesisJob.objects.filter(parent_id=job.pk).order_by("piece"))
    assert [piece.cached for piece in pieces] == [True, False, False]
    assert all(piece.audio.name == "" and piece.audio_expired_at is not None for piece in pieces)
    assert default_storage.exists(made.audio.name)
    assert httpx.get(posted["audio_url"], timeout=30).status_code == 200
    stored = set(default_storage.listdir("audio")[1])
    assert {f"audio/{name}" for name in stored} == {made.audio.name, job.audio.name}  # no piece file left


def test_a_timed_context_sends_each_pieces_words_and_the_job_gets_them_all(stack, account):
    _, secret = account
    socket = _socket(stack, secret)
    try:
        assert _open(socket, "t", timestamps=True)["type"] == "context.opened"
        socket.send(type="text", context_id="t", text=" ".join(SENTENCES[:3]) + " ")
        socket.send(type="close", context_id="t")
        done = socket.done("t")
    finally:
        socket.close()

    alignments = socket.of("t", "alignment")
    assert [m["text"] for m in alignments] == SENTENCES[:3]
    for message in alignments:  # each piece's words, as sent, on the context's timeline inside the piece
        assert [word["text"] for word in message["words"]] == message["text"].split()
        assert message["start"] <= message["words"][0]["start"] < message["words"][-1]["end"] <= message["end"] + 0.05
    job = _final(done["job_id"])
    assert job.status == "succeeded"
    assert [word["text"] for word in job.words] == " ".join(SENTENCES[:3]).split()
    starts = [word["start"] for word in job.words]
    assert starts == sorted(starts)
    assert job.words[-1]["end"] <= job.duration_seconds + 0.05


def test_a_quiet_context_ends_itself_with_what_was_spoken(stack, account):
    _, secret = account
    socket = _socket(stack, secret)
    try:
        assert _open(socket, "c1")["type"] == "context.opened"
        socket.send(type="text", context_id="c1", text="This sentence is complete. This one never ends")
        done = socket.done("c1", timeout=60)  # (the stack's TTS_WS_CONTEXT_IDLE_SECONDS is 4)
    finally:
        socket.close()

    assert done["reason"] == "idle_timeout"
    assert done["pieces"] == 1
    assert done["characters"] == len("This sentence is complete.")
    assert _billed(done["job_id"]) == done["characters"]
    assert _final(done["job_id"]).text == "This sentence is complete."


def test_options_are_checked_as_post_tts_checks_them(stack, account):
    _, secret = account
    socket = _socket(stack, secret)
    try:
        codes = [_open(socket, f"bad{n}", **options).get("code") for n, (options, _) in enumerate(BAD_OPTIONS)]
        socket.send(type="text", context_id="nope", text="Hello. ")
        unknown = socket.wait_for(lambda m: m.get("context_id") == "nope")
    finally:
        socket.close()

    assert codes == [code for _, code in BAD_OPTIONS]
    assert unknown["code"] == "context_not_found"
    assert not SynthesisJob.objects.filter(live=True, status="running").exists()  # no context was opened


BAD_OPTIONS = [
    ({"speed": 3}, "invalid_speed"),
    ({"sample_rate": 12345}, "invalid_sample_rate"),
    ({"format": "wav"}, "format_not_streamable"),
    ({"voice_id": "nobody"}, "voice_not_found"),
]


def test_a_piece_beyond_the_quota_ends_the_context_with_what_was_spoken(stack, account):
    user, secret = account
    # given: a month nearly spent: the first sentence fits, the second does not
    balance = account_refresh(user=user).balance
    usage_adjust(user=user, amount=-(balance - len(SENTENCES[0]) - 5), reason="test: a nearly spent month")
    socket = _socket(stack, secret)
    try:
        assert _open(socket, "c1")["type"] == "context.opened"
        socket.send(type="text", context_id="c1", text=f"{SENTENCES[0]} {SENTENCES[1]} ")
        done = socket.done("c1")
    finally:
        socket.close()

    assert [m["code"] for m in socket.of("c1", "error")] == ["quota_exceeded"]
    assert done["reason"] == "error"
    assert done["pieces"] == 1
    assert done["characters"] == len(SENTENCES[0]) == _billed(done["job_id"])


def test_a_socket_without_credentials_is_refused(stack):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with connect(f"{stack.ws_url}/ws/tts/", open_timeout=30) as ws:
        message = ws.recv(timeout=30)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
    assert '"code": "authentication_failed"' in message.replace('":"', '": "')
    assert ws.close_code == 4401


def test_a_piece_whose_worker_is_killed_is_retried_spoken_once_and_billed_once(stack, account):
    _, secret = account
    long_sentence = " ".join(f"Clause number {n} keeps the worker busy for a while" for n in range(7)) + "."
    sentences = [long_sentence, "After the crash the context goes on."]
    socket = _socket(stack, secret)
    try:
        opened = _open(socket, "c1")
        socket.send(type="text", context_id="c1", text=" ".join(sentences) + " ")
        deadline = time.monotonic() + 60
        while (piece := SynthesisJob.objects.filter(parent_id=opened["job_id"], piece=0).first()) is None or (
            piece.status != "running"
        ):
            assert time.monotonic() < deadline, "the first piece never started"
            time.sleep(0.02)
        os.kill(int(piece.worker.rsplit(":", 1)[1]), signal.SIGKILL)  # the worker process dies mid-sentence

        # once its heartbeat has lapsed, the sweeper gives the piece to a live worker
        deadline = time.monotonic() + 30
        while worker_is_alive(piece.worker):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        # (sent again, unless the killed worker's own message went back to the queue and waits there)
        synthesis_jobs_sweep()
        assert SynthesisJob.objects.get(pk=piece.pk).status != "running" or worker_is_alive(
            SynthesisJob.objects.get(pk=piece.pk).worker
        )
        socket.send(type="close", context_id="c1")
        done = socket.done("c1", timeout=120)
    finally:
        socket.close()

    assert [a["text"] for a in socket.of("c1", "alignment")] == sentences  # each spoken once, in order
    assert sorted(socket.audio["c1"]) == [0, 1]
    assert SynthesisJob.objects.get(pk=piece.pk).attempts == 2
    assert done["characters"] == sum(map(len, sentences)) == _billed(done["job_id"])
    assert sorted(LedgerEntry.objects.filter(job_id=piece.pk).values_list("kind", flat=True)) == ["capture", "reserve"]
