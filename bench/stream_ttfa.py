"""Time to first audio of POST /v1/tts/stream against a running server (`make run`, or any deployment).

N different 200-character texts (so none is a cache hit), one after another: the time from sending the request to
the first audio bytes, and to the last. The goal on the CPU default (Piper) is a p50 of at most 250 ms.

    python bench/stream_ttfa.py --api-key odk_... [--base-url http://127.0.0.1:8000] [-n 20] [--format pcm]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_latency import WORDS


def sentences_of_200_chars(index: int, salt: str) -> str:
    """About 200 characters of ordinary sentences (capitalised, about eight words each), unique per request."""
    sentences, i = [], index
    while len(" ".join(sentences)) < 190:
        words = [WORDS[(i + k * 7) % len(WORDS)] for k in range(8)]
        sentences.append(" ".join(words).capitalize() + ".")
        i = i * 5 + 3
    return " ".join(sentences)[:190].rsplit(" ", 1)[0] + f" {salt}{index}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("ODIADEV_BASE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", default=os.environ.get("ODIADEV_API_KEY"), required=False)
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--format", default="pcm", choices=["pcm", "ulaw", "mp3"])
    args = parser.parse_args()
    if not args.api_key:
        parser.error("--api-key (or ODIADEV_API_KEY) is required")
    salt = uuid.uuid4().hex[:8]
    first, last = [], []
    with httpx.Client(
        base_url=args.base_url, headers={"Authorization": f"Bearer {args.api_key}"}, timeout=60
    ) as client:
        for index in range(args.n):
            started = time.perf_counter()
            body = {"text": sentences_of_200_chars(index, salt), "format": args.format}
            with client.stream("POST", "/v1/tts/stream", json=body) as response:
                response.raise_for_status()
                got_first = None
                for _chunk in response.iter_bytes():
                    got_first = got_first or time.perf_counter()
            first.append(got_first - started)
            last.append(time.perf_counter() - started)

    def pct(values, q):
        return round(statistics.quantiles(values, n=100)[q - 1] * 1000) if len(values) > 1 else round(values[0] * 1000)

    print(
        json.dumps(
            {
                "requests": args.n,
                "format": args.format,
                "ttfa_ms_p50": pct(first, 50),
                "ttfa_ms_p95": pct(first, 95),
                "whole_ms_p50": pct(last, 50),
                "whole_ms_p95": pct(last, 95),
            }
        )
    )


if __name__ == "__main__":
    main()
