"""Text-in streaming latency (/ws/tts/) against a running server with a warm worker (`make run`, or any deployment).

For each of N contexts, one at a time: a first sentence of eight ordinary words drawn at random (no cache hit) goes
out as an LLM would write it, in a few pieces 30 ms apart; the clock starts when the piece that completes it (the
one carrying the whitespace after its full stop) is sent, and stops at the first audio frame of that sentence.
Then a second sentence and `close`. Goal on the CPU default (Piper): at most 250 ms. Prints p50/p95 as JSON.

    python bench/ws_latency.py --api-key odk_... [--base-url http://127.0.0.1:8000] [-n 20] [--format pcm]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_latency import WORDS

SECOND = "Here is what I found about your question, in a few short sentences."


def first_sentence(rng: random.Random) -> str:
    """Eight ordinary words drawn afresh (no cache hit; no letters or digits spelled out, which would make the
    sentence longer than an agent's usual first sentence)."""
    return " ".join(rng.choice(WORDS) for _ in range(8)).capitalize() + "."


def _pieces(sentence: str, size: int = 9) -> list[str]:
    """The sentence in pieces of about `size` characters (tokens), the last carrying the trailing space."""
    tokens = [sentence[i : i + size] for i in range(0, len(sentence), size)]
    tokens[-1] += " "
    return tokens


def one_context(ws, context_id: str, first: str, fmt: str) -> tuple[float, float]:
    """(seconds from completing the first sentence to its first audio, to the context's `done`)."""
    ws.send(json.dumps({"type": "context.open", "context_id": context_id, "voice_id": "joe", "format": fmt}))
    while (opened := json.loads(ws.recv(timeout=30)))["type"] != "context.opened":
        if opened["type"] == "error":
            raise SystemExit(opened)
    for piece in _pieces(first)[:-1]:
        ws.send(json.dumps({"type": "text", "context_id": context_id, "text": piece}))
        time.sleep(0.03)
    ws.send(json.dumps({"type": "text", "context_id": context_id, "text": _pieces(first)[-1]}))
    completed = time.perf_counter()
    first_audio = None
    ws.send(json.dumps({"type": "text", "context_id": context_id, "text": SECOND}))
    ws.send(json.dumps({"type": "close", "context_id": context_id}))
    while True:
        frame = ws.recv(timeout=60)
        if isinstance(frame, bytes):
            first_audio = first_audio or time.perf_counter()
            continue
        message = json.loads(frame)
        if message["type"] == "error":
            raise SystemExit(message)
        if message["type"] == "done":
            return first_audio - completed, time.perf_counter() - completed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("ODIADEV_BASE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", default=os.environ.get("ODIADEV_API_KEY"), required=False)
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2, help="contexts run first and not counted")
    parser.add_argument("--format", default="pcm", choices=["pcm", "ulaw", "mp3", "ogg"])
    args = parser.parse_args()
    if not args.api_key:
        parser.error("--api-key (or ODIADEV_API_KEY) is required")
    url = args.base_url.replace("http", "ws", 1) + "/ws/tts/"
    rng = random.Random()  # another run draws other sentences (those of the last are cached)
    first_audio, whole = [], []
    with connect(url, additional_headers={"Authorization": f"Bearer {args.api_key}"}, open_timeout=30) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "hello"
        for i in range(args.warmup + args.n):
            latency, total = one_context(ws, f"c{i}", first_sentence(rng), args.format)
            if i >= args.warmup:
                first_audio.append(latency)
                whole.append(total)

    def pct(values, q):
        return round(statistics.quantiles(values, n=100)[q - 1] * 1000) if len(values) > 1 else round(values[0] * 1000)

    print(
        json.dumps(
            {
                "contexts": args.n,
                "format": args.format,
                "first_sentence_to_first_audio_ms_p50": pct(first_audio, 50),
                "first_sentence_to_first_audio_ms_p95": pct(first_audio, 95),
                "first_sentence_to_done_ms_p50": pct(whole, 50),
                "goal_ms": 250,
            }
        )
    )


if __name__ == "__main__":
    main()
