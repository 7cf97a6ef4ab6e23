"""The SDK's text-in streaming helper (`Client.stream_input`) against the live stack: tokens sent from a generator
while audio comes back per sentence."""

from __future__ import annotations

import time

import pytest
from odiadev_sdk import APIError, Client

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TOKENS = ["The kit sends", " text as it", " is written. A second", " sentence ends", " here. "]


def test_stream_input_yields_audio_per_sentence_while_tokens_are_still_coming(stack, customer_key):
    sent_last = []

    def tokens():
        for token in TOKENS:
            time.sleep(0.4)
            yield token
        sent_last.append(time.monotonic())

    audio, alignments, first_audio = {}, [], None
    with Client(customer_key, base_url=stack.base_url) as client:
        for event in client.stream_input(tokens(), voice_id="joe", format="pcm"):
            if event["type"] == "audio":
                first_audio = first_audio or time.monotonic()
                audio[event["piece"]] = audio.get(event["piece"], b"") + event["data"]
            elif event["type"] == "alignment":
                alignments.append(event)
            elif event["type"] == "done":
                done = event

    assert [a["text"] for a in alignments] == ["The kit sends text as it is written.", "A second sentence ends here."]
    assert sorted(audio) == [0, 1]
    assert all(len(data) > 2 * 22050 * 0.5 for data in audio.values())  # over half a second each
    assert first_audio < sent_last[0]  # the first sentence was heard before the generator finished
    assert done["reason"] == "closed"
    assert done["characters"] == sum(len(a["text"]) for a in alignments)


def test_stream_input_raises_the_context_error(stack, customer_key):
    with Client(customer_key, base_url=stack.base_url) as client, pytest.raises(APIError) as caught:
        list(client.stream_input(["Hello. "], voice_id="joe", format="wav"))

    assert caught.value.code == "format_not_streamable"
