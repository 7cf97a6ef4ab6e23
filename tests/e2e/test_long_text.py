"""A long text is synthesized in segments with progress on the websocket, and stitched into one audio file."""

import io

import httpx
import pytest
import soundfile as sf

from accounts.services import api_key_create
from billing.services import plan_assign
from tests.factories import UserFactory

from .helpers import bearer, events_until_final, open_socket, submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PARAGRAPH = (
    "The river ran slowly past the old mill, carrying leaves from the hills. Children waited on the bridge to watch "
    "the boats. A bell rang in the town square at noon, and the market filled with voices. Traders called out the "
    "prices of yams, peppers and fresh bread, while the smell of roasted corn drifted across the road."
)


def test_long_text_reports_progress_per_segment_and_is_one_audio_file(stack):
    user = UserFactory()
    plan_assign(user=user, slug="pro")
    secret = api_key_create(user=user, name="long").secret
    text = "\n\n".join([PARAGRAPH] * 4)  # about 1,200 characters: segments of at most 400

    with open_socket(stack, api_key=secret) as ws:
        job = submit(stack, secret, text=text, format="wav").json()
        events = events_until_final(ws, job["id"], timeout=120)

    final = events[-1]
    progress = [(e["chunks_done"], e["chunks_total"]) for e in events if e["status"] == "running" and e["chunks_total"]]
    assert final["status"] == "succeeded"
    total = final["chunks_total"]
    assert total >= 4
    assert [done for done, _ in progress] == list(range(total + 1)), "one event per segment, in order"
    assert final["chunks_done"] == total
    audio = httpx.get(final["audio_url"], headers=bearer(secret), timeout=30).content
    samples, rate = sf.read(io.BytesIO(audio))
    assert len(samples) / rate > 40, "every segment is in the one file"
