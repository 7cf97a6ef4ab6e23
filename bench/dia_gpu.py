"""Dia-1.6B on a GPU with random weights (no download): peak VRAM, decode steps/s and real-time factor.

Builds the full-size architecture from transformers' default DiaConfig (and a full-size DAC codec), in bf16, and
generates a fixed number of steps for a `--seconds` utterance (86 DAC frames per second), then decodes the codes
to audio. Variants: eager, `torch.compile`, and 8-bit weights through bitsandbytes (`requirements/gpu.txt`).

    python bench/dia_gpu.py                 # on a CUDA machine: all variants, one JSON line each
    python bench/dia_gpu.py --tiny          # a 1-layer model on the CPU, to check the script itself
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import DacConfig, DacModel, DiaConfig, DiaForConditionalGeneration, DiaTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from speech.engines.dia_testing import tiny_configs

FRAMES_PER_SECOND = 86
TEXT = (
    "[S1] Welcome back to the show. Today we talk about building speech products that people trust. "
    "[S2] (laughs) Trust is the whole game."
)


def configs(tiny: bool) -> tuple[DiaConfig, DacConfig]:
    if tiny:
        return tiny_configs()
    return DiaConfig(), DacConfig(sampling_rate=44100, decoder_hidden_size=1536, n_codebooks=9)


def run(variant: str, args, device: str, dtype) -> dict:
    dia_config, dac_config = configs(args.tiny)
    torch.manual_seed(0)
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    if variant == "int8":
        from transformers import BitsAndBytesConfig

        with tempfile.TemporaryDirectory() as folder:
            DiaForConditionalGeneration(dia_config).save_pretrained(folder)
            model = DiaForConditionalGeneration.from_pretrained(
                folder, quantization_config=BitsAndBytesConfig(load_in_8bit=True), device_map=device
            )
    else:
        model = DiaForConditionalGeneration(dia_config).to(device=device, dtype=dtype)
    model.eval()
    if variant == "compile":
        model.forward = torch.compile(model.forward, mode="reduce-overhead", dynamic=True)
    codec = DacModel(dac_config).to(device).eval()
    weights_gb = torch.cuda.memory_allocated() / 1e9 if device == "cuda" else 0.0

    inputs = DiaTokenizer()([TEXT], padding=True, return_tensors="pt").to(device)
    steps = int(args.seconds * FRAMES_PER_SECOND)
    generate = {
        "max_new_tokens": steps,
        "min_new_tokens": steps,
        "guidance_scale": 3.0,
        "temperature": 1.8,
        "top_p": 0.9,
        "top_k": 45,
        "do_sample": True,
    }
    with torch.inference_mode():
        model.generate(**inputs, **{**generate, "max_new_tokens": 16, "min_new_tokens": 16})  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        codes = model.generate(**inputs, **generate)
        if device == "cuda":
            torch.cuda.synchronize()
        generated = time.perf_counter() - started
        # generate returns (batch, frames, codebooks); the codec wants (batch, codebooks, frames) of real codes
        # (the special tokens 1024-1026 clamped away: with random weights this is about timing, not sound).
        started = time.perf_counter()
        audio_codes = codes.transpose(1, 2).clamp(0, dac_config.codebook_size - 1)
        codec.decode(audio_codes=audio_codes)
        if device == "cuda":
            torch.cuda.synchronize()
        decoded = time.perf_counter() - started
    return {
        "variant": variant,
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "dtype": "int8" if variant == "int8" else str(dtype).removeprefix("torch."),
        "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "weights_gb": round(weights_gb, 2),
        "peak_vram_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if device == "cuda" else 0.0,
        "audio_seconds": args.seconds,
        "decode_steps": steps,
        "steps_per_second": round(steps / generated, 1),
        "generate_seconds": round(generated, 2),
        "codec_decode_seconds": round(decoded, 3),
        "real_time_factor": round((generated + decoded) / args.seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tiny", action="store_true", help="1-layer model on the CPU: checks the script only")
    parser.add_argument("--variants", default="eager,compile,int8")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    results = []
    for variant in args.variants.split(","):
        if variant == "int8" and device != "cuda":
            continue
        try:
            result = run(variant, args, device, dtype)
        except Exception as exc:  # report and go on: one failing variant must not hide the others
            result = {"variant": variant, "error": f"{type(exc).__name__}: {exc}"[:500]}
        results.append(result)
        print(json.dumps(result), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
