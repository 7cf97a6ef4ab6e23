"""Piper with onnxruntime's spinning threads on and off (`PIPER_ALLOW_SPINNING`): synthesis time and CPU used.

Each round runs one fresh process per setting, alternating, each synthesizing `--texts` of the latency bench's
200-character texts one after another on one Piper voice (after one warm-up), and prints the median synthesis time
and the cores the process kept busy (CPU time / wall time). Spinning threads keep cores busy between the model's
steps; what they burn is what the web processes beside a worker on the same machine lack. No server, no Django.

    .venv/bin/python bench/piper_spinning.py [--rounds 2] [--texts 8]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _one(allow_spinning: bool, texts: int) -> str:
    from synth_latency import text_of_200_chars

    from speech.engines.base import SynthesisRequest
    from speech.engines.piper import PiperEngine

    engine = PiperEngine(allow_spinning=allow_spinning)
    engine.load()
    voice = next(iter(engine._voice_paths))

    def synthesize(n: int) -> None:
        list(engine.synthesize(SynthesisRequest(text=text_of_200_chars(n, "spin"), voice=voice, speed=1.0)))

    synthesize(0)
    walls = []
    cpu, start = time.process_time(), time.perf_counter()
    for n in range(1, texts + 1):
        began = time.perf_counter()
        synthesize(n)
        walls.append(time.perf_counter() - began)
    cores = (time.process_time() - cpu) / (time.perf_counter() - start)
    return f"{statistics.median(walls):.3f} {cores:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--texts", type=int, default=8)
    parser.add_argument("--child", choices=["0", "1"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(_one(args.child == "1", args.texts))
        return
    for round_ in range(1, args.rounds + 1):
        for setting in ("1", "0"):
            out = subprocess.run(  # noqa: S603 - this script again, with its own arguments
                [sys.executable, __file__, "--child", setting, "--texts", str(args.texts)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            print(f"round {round_} allow_spinning={setting}: synthesis p50 {out[0]} s, {out[1]} cores busy")


if __name__ == "__main__":
    main()
