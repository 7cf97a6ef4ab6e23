"""PerTh watermark figures on this machine: embedding cost per audio second, and detection confidence after the
transformations audio goes through (the README's provenance table comes from here).

    python bench/watermark.py [--threads N]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from speech.audio import encode, resample
from speech.audio_input import decode
from speech.watermark import watermark_apply, watermark_detect, watermarker
from tests.support.media import SAMPLE_TEXT, speech

RATE = 22050


def _mp3(samples: np.ndarray, rate: int, bit_rate: int) -> np.ndarray:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return decode(buffer.getvalue()).samples


def _noise(samples: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    power = np.mean(np.square(samples, dtype=np.float64))
    noise = np.random.default_rng(seed).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), samples.shape)
    return (samples + noise).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    watermarker()
    load_s = time.perf_counter() - started
    clean = speech(SAMPLE_TEXT, rate=RATE)
    watermark_apply(clean[: RATE * 2], RATE)  # warm-up
    timings = {}
    for seconds in (len(clean) / RATE, 60.0):
        audio = np.resize(clean, int(seconds * RATE))
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            watermark_apply(audio, RATE)
            runs.append(time.perf_counter() - t)
        t = time.perf_counter()
        watermark_detect(audio, RATE)
        detect_s = time.perf_counter() - t
        timings[f"{seconds:.1f}s"] = {
            "embed_ms_per_audio_s": round(1000 * min(runs) / seconds, 1),
            "detect_ms_per_audio_s": round(1000 * detect_s / seconds, 1),
        }
    marked = watermark_apply(clean, RATE)
    cases = {
        "marked": lambda x: (x, RATE),
        "marked, delivered mp3 (libsndfile)": lambda x: (
            decode(encode(x, RATE, "mp3", target_rate=RATE)).samples,
            RATE,
        ),
        "marked, mp3 32 kbps": lambda x: (_mp3(x, RATE, 32_000), RATE),
        "marked, mp3 64 kbps": lambda x: (_mp3(x, RATE, 64_000), RATE),
        "marked, ogg/opus 48 kHz": lambda x: (decode(encode(x, RATE, "ogg", target_rate=48000)).samples, 48000),
        "marked, resampled to 16 kHz and back": lambda x: (resample(resample(x, RATE, 16000), 16000, RATE), RATE),
        "marked, resampled to 8 kHz and back": lambda x: (resample(resample(x, RATE, 8000), 8000, RATE), RATE),
        **{
            f"marked, white noise {snr} dB SNR (5 seeds: min/max)": (lambda x, snr=snr: ("noise", snr))
            for snr in (30, 20, 10)
        },
    }
    confidences = {}
    for name, transform in cases.items():
        result = transform(marked)
        if isinstance(result[0], str):
            values = [watermark_detect(_noise(marked, result[1], seed), RATE) for seed in range(5)]
            confidences[name] = [round(min(values), 4), round(max(values), 4)]
        else:
            confidences[name] = round(watermark_detect(*result), 4)
    confidences["unmarked (paid) Piper speech"] = round(watermark_detect(clean, RATE), 4)
    confidences["unmarked, mp3 64 kbps"] = round(watermark_detect(_mp3(clean, RATE, 64_000), RATE), 4)
    confidences["unmarked, white noise 20 dB"] = round(watermark_detect(_noise(clean, 20, 0), RATE), 4)
    report = {
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_s": round(load_s, 2),
        "speech_seconds": round(len(clean) / RATE, 2),
        "timings": timings,
        "confidence": confidences,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
