"""PerTh watermark figures on this machine: embedding cost per audio second, and detection confidence after the
transformations audio goes through (the README's provenance table comes from here).

With --corpus: the false-positive measurement behind speech.watermark.watermark_verdict. Every clip of an unmarked
corpus (tones, a sweep, chords, a melody, white and pink noise, Piper speech plain, slow, as another speaker, with
noise, over a tone and over chords; at 8, 16, 22.05 and 44.1 kHz) is checked as made, as MP3 (libmp3lame at its
own rate) and as Ogg Opus (48 kHz), with PerTh's confidence and the share of speech; and Piper speech marked at
each rate is checked as made, after MP3 at 64 and 16 kbps, Opus, and white noise at 20 dB SNR. Writes
bench/measured/watermark_fpr_2core.json.

    python bench/watermark.py [--threads N] [--corpus]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from speech.audio import encode, resample
from speech.audio_input import decode
from speech.watermark import (
    INCONCLUSIVE_FROM,
    VERDICT_MIN_SPEECH_RATIO,
    VERDICT_THRESHOLD,
    watermark_apply,
    watermark_detect,
    watermark_verdict,
    watermarker,
)
from tests.support.media import SAMPLE_TEXT, mp3_av, speech, unmarked_corpus

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


def _codecs(samples: np.ndarray, rate: int) -> dict[str, tuple[np.ndarray, int]]:
    opus = decode(encode(samples, rate, "ogg", target_rate=48000))
    return {
        "as made": (samples, rate),
        "mp3": (decode(mp3_av(samples, rate)).samples, rate),
        "opus 48k": (opus.samples, opus.sample_rate),
    }


def corpus_report() -> dict:
    """Confidence and speech share of every unmarked clip through every codec, and of marked speech."""
    rows = []
    for name, (samples, rate) in unmarked_corpus().items():
        for codec, (received, received_rate) in _codecs(samples, rate).items():
            verdict = watermark_verdict(received, received_rate)
            rows.append({"clip": name, "codec": codec, **verdict.to_dict()})
            print(f"{name:28} {codec:9} {json.dumps(verdict.to_dict())}", flush=True)
    marked = []
    for rate in (8000, 16000, 22050, 44100):
        clip = watermark_apply(speech(SAMPLE_TEXT, rate=rate), rate)
        opus = decode(encode(clip, rate, "ogg", target_rate=48000))
        for transform, (received, received_rate) in {
            "as made": (clip, rate),
            "mp3 64 kbps": (decode(mp3_av(clip, rate, 64_000)).samples, rate),
            "mp3 16 kbps": (decode(mp3_av(clip, rate, 16_000)).samples, rate),
            "opus 48k": (opus.samples, opus.sample_rate),
            "white noise 20 dB": (_noise(clip, 20, 1), rate),
        }.items():
            verdict = watermark_verdict(received, received_rate)
            marked.append({"clip": f"marked speech @ {rate} Hz", "codec": transform, **verdict.to_dict()})
            print(f"marked speech @ {rate} Hz  {transform:17} {json.dumps(verdict.to_dict())}", flush=True)
    speech_rows = [r for r in rows if r["speech_ratio"] >= VERDICT_MIN_SPEECH_RATIO]
    without_noise = [r for r in marked if "noise" not in r["codec"]]
    return {
        "verdict": {
            "threshold": VERDICT_THRESHOLD,
            "inconclusive_from": INCONCLUSIVE_FROM,
            "min_speech_ratio": VERDICT_MIN_SPEECH_RATIO,
        },
        "unmarked_clips": len(rows),
        "unmarked_claimed_marked": sum(r["watermarked"] for r in rows),
        "unmarked_reasons": dict(Counter(r["reason"] for r in rows)),
        "unmarked_confidence_max": max(r["confidence"] for r in rows),
        "unmarked_at_or_above_0.5_without_speech_gate": sum(r["confidence"] >= 0.5 for r in rows),
        "unmarked_with_speech": len(speech_rows),
        "unmarked_with_speech_confidence_max": max((r["confidence"] for r in speech_rows), default=None),
        "non_speech_speech_ratio_max": max(r["speech_ratio"] for r in rows if not r["clip"].startswith("speech")),
        "marked_detected": f"{sum(r['watermarked'] for r in marked)}/{len(marked)}",
        "marked_without_noise_confidence_min": min(r["confidence"] for r in without_noise),
        "marked_with_noise_confidence": sorted(r["confidence"] for r in marked if "noise" in r["codec"]),
        "unmarked": rows,
        "marked": marked,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--corpus", action="store_true", help="the false-positive corpus (see the docstring)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.corpus:
        watermarker()
        report = corpus_report()
        summary = {k: v for k, v in report.items() if k not in ("unmarked", "marked")}
        print(json.dumps(summary, indent=2))
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "measured", "watermark_fpr_2core.json")
        with open(out, "w") as f:
            f.write(json.dumps({"cpu_cores": os.cpu_count(), **report}, indent=1) + "\n")
        return
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
