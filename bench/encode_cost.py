"""Encode cost per delivery format: CPU time and size of each format, sample rate and mp3 bitrate.

Synthesizes about 10 s of real speech with Piper (22.05 kHz, as a worker would), then encodes it with the
worker's own `speech.audio.encode` (soxr resampling + libsndfile) in every format at every rate the API allows,
mp3 at every bitrate. For each it prints the median over `--repeat` runs as milliseconds of CPU per second of
audio, and the output's bytes per second of audio. Runs on the worker's dependencies alone (no server, no Django).

    .venv/bin/python bench/encode_cost.py [--seconds 10] [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from speech.audio import OPUS_RATES, concatenate, encode, mp3_bitrate_range
from speech.engines.base import SynthesisRequest
from speech.engines.piper import PiperEngine

# The API's choices (synthesis/formats.py); repeated here so the script needs no Django.
SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
MP3_BITRATES = (32, 64, 96, 128, 192)
TEXT = (
    "Good morning, and welcome to the quarterly review. Revenue grew by twelve percent, driven by new customers in "
    "Lagos and Abuja. Our support team answered nine out of ten calls within two minutes. Next quarter we will open "
    "a second office and hire twenty engineers."
)


def speech(seconds: float) -> tuple:
    engine = PiperEngine()
    engine.load()
    samples, rate = concatenate(engine.synthesize(SynthesisRequest(text=TEXT, voice="en_US-joe-medium")))
    while len(samples) < seconds * rate:  # repeat the recording if the text was short of the target
        samples = np.concatenate([samples, samples])
    return samples[: int(seconds * rate)], rate


def cases():
    for fmt in ("wav", "flac", "pcm"):
        for rate in SAMPLE_RATES:
            yield fmt, rate, None
    for rate in SAMPLE_RATES:
        low, high = mp3_bitrate_range(rate)
        for bitrate in MP3_BITRATES:
            if low <= bitrate <= high:
                yield "mp3", rate, bitrate
    for rate in SAMPLE_RATES:
        if rate in OPUS_RATES:
            yield "ogg", rate, None
    yield "ulaw", 8000, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()

    samples, rate = speech(args.seconds)
    seconds = len(samples) / rate
    print(f"# {seconds:.1f} s of Piper speech at {rate} Hz; {os.cpu_count()} CPUs ({platform.machine()})")
    print(f"{'format':<6} {'rate':>6} {'kbps':>5} {'ms CPU / audio s':>17} {'bytes / audio s':>16}")
    rows = []
    for fmt, target, bitrate in cases():
        timings, size = [], 0
        for _ in range(args.repeat):
            started = time.process_time()
            size = len(encode(samples, rate, fmt, target_rate=target, bitrate=bitrate))
            timings.append(time.process_time() - started)
        ms = statistics.median(timings) * 1000 / seconds
        row = {
            "format": fmt,
            "sample_rate": target,
            "bitrate": bitrate,
            "ms_per_audio_s": ms,
            "bytes_per_s": size / seconds,
        }
        rows.append(row)
        print(f"{fmt:<6} {target:>6} {bitrate or '':>5} {ms:>17.2f} {size / seconds:>16.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
