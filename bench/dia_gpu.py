"""Dia-1.6B on a GPU with random weights (no download): peak VRAM, decode steps/s and real-time factor.

Saves the full-size architecture from transformers' default DiaConfig and a full-size DAC codec, both randomly
initialised, to a temporary folder in the layout the production loader reads, then runs each variant in its own
process (a crash, a hang or a CUDA error in one cannot hide the others), under a time budget for the whole run:

- `engine`, `engine-int8`: our production class `speech.engines.dia.DiaEngine` (bf16, and 8-bit through
  bitsandbytes as with DIA_USE_BNB=1): load seconds and VRAM, then plain text and a cloned voice (an audio prompt
  with its transcript): wall seconds, audio seconds, real-time factor, peak VRAM. `engine` ends with the CUDA
  out-of-memory path: with the GPU filled up, a job must fail as GpuOutOfMemory and the next job must work.
- `eager`, `compile`, `int8`: the bare model's generate for exactly `--seconds` of frames, then the codec.

Random weights make EOS the top logit about once in 1025 steps, which would end a timed run at a random point: the
saved generation config suppresses it (`min_new_tokens`), so every run is `max_new_tokens` long.

    python bench/dia_gpu.py --seconds 5 --out dia.json   # on a CUDA machine: one JSON line per variant or stage
    python bench/dia_gpu.py --tiny                       # a 1-layer model on the CPU, to check the script itself
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from transformers import DacConfig, DacModel, DiaConfig, DiaForConditionalGeneration, DiaTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from speech.engines.base import SynthesisRequest, VoicePrompt
from speech.engines.dia import TOKENS_PER_SECOND, DiaEngine, GenerationSettings, GpuOutOfMemory
from speech.engines.dia_testing import tiny_configs

FRAMES_PER_SECOND = TOKENS_PER_SECOND  # DAC frames (decode steps) per second of 44.1 kHz audio
TEXT = (
    "[S1] Welcome back to the show. Today we talk about building speech products that people trust. "
    "[S2] (laughs) Trust is the whole game."
)
PROMPT_TRANSCRIPT = "[S1] This is how I sound when I read a short sentence out loud."
PROMPT_SECONDS = 3.0
DEFAULT_VARIANTS = "engine,eager,engine-int8,compile,int8"
# Seconds each variant may take at most (its process is killed after that); the whole run also has --budget.
VARIANT_LIMITS = {
    "engine": 150,
    "engine-int8": 150,
    "eager": 75,
    "int8": 90,
    "compile": 150,
    # A static KV cache: transformers then compiles the decode step itself on CUDA ("static"); "static-eager"
    # keeps the static cache but turns that compilation off, to tell the two effects apart.
    "static": 200,
    "static-eager": 90,
}
MIN_VARIANT_SECONDS = 30  # a variant that cannot get this much of the budget is skipped, not started


def configs(tiny: bool) -> tuple[DiaConfig, DacConfig]:
    if tiny:
        return tiny_configs()
    return DiaConfig(), DacConfig(sampling_rate=44100, decoder_hidden_size=1536, n_codebooks=9)


def versions() -> dict:
    found = {}
    for name in ("torch", "transformers", "bitsandbytes", "accelerate", "numpy", "huggingface_hub", "regex"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


# ----------------------------------------------------------------------------------------------------------
# The checkpoint (parent process)
# ----------------------------------------------------------------------------------------------------------
def build_checkpoint(folder: Path, tiny: bool, device: str, dtype: torch.dtype) -> dict:
    """A random Dia and DAC codec saved as `folder/dia` and `folder/dac` (the layout of dia_testing.build_tiny_dia)."""
    started = time.perf_counter()
    dia_config, dac_config = configs(tiny)
    torch.manual_seed(0)
    built_on = device
    try:
        with torch.device(device):  # random init on the GPU takes seconds, on the CPU tens of seconds
            model, codec = DiaForConditionalGeneration(dia_config), DacModel(dac_config)
    except Exception:  # slower, but the same weights' shapes
        built_on = "cpu"
        model, codec = DiaForConditionalGeneration(dia_config), DacModel(dac_config)
    model.generation_config.min_new_tokens = dia_config.decoder_config.max_position_embeddings
    parameters = sum(p.numel() for p in model.parameters())
    model.to(dtype).save_pretrained(folder / "dia")
    codec.save_pretrained(folder / "dac")
    del model, codec
    if device == "cuda":
        torch.cuda.empty_cache()
    return {
        "variant": "checkpoint",
        "parameters_m": round(parameters / 1e6, 1),
        "dtype": str(dtype).removeprefix("torch."),
        "built_on": built_on,
        "disk_gb": round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e9, 2),
        "seconds": round(time.perf_counter() - started, 1),
    }


# ----------------------------------------------------------------------------------------------------------
# Variants (each in its own process)
# ----------------------------------------------------------------------------------------------------------
def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_raw(variant: str, args, folder: Path, device: str, dtype: torch.dtype) -> dict:
    """The bare model: generate exactly `--seconds` of frames (no audio prompt), then decode them with the codec."""
    _, dac_config = configs(args.tiny)
    if variant == "int8":
        from transformers import BitsAndBytesConfig

        model = DiaForConditionalGeneration.from_pretrained(
            folder / "dia", quantization_config=BitsAndBytesConfig(load_in_8bit=True), device_map=device
        )
    else:
        model = DiaForConditionalGeneration.from_pretrained(folder / "dia", dtype=dtype).to(device)
    model.eval()
    if variant == "compile":
        if args.tiny:  # checks tracing only: Inductor's C++ code for the CPU is not what a GPU runs
            model.forward = torch.compile(model.forward, backend="aot_eager", dynamic=True)
        else:
            model.forward = torch.compile(model.forward, mode="reduce-overhead", dynamic=True)
    codec = DacModel.from_pretrained(folder / "dac").to(device).eval()
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
    warmup_generate = {**generate, "max_new_tokens": 16, "min_new_tokens": 16}
    if variant.startswith("static"):
        generate["cache_implementation"] = "static"
        generate["disable_compile"] = variant == "static-eager"
        warmup_generate = generate  # the static cache's size is part of the compiled graph: warm up at full length
    with torch.inference_mode():
        started = time.perf_counter()
        model.generate(**inputs, **warmup_generate)  # warm-up (compiles)
        sync(device)
        warmup = time.perf_counter() - started
        started = time.perf_counter()
        codes = model.generate(**inputs, **generate)
        sync(device)
        generated = time.perf_counter() - started
        # generate returns (batch, frames, codebooks); the codec wants (batch, codebooks, frames) of real codes
        # (the special tokens 1024-1026 clamped away: with random weights this is about timing, not sound).
        started = time.perf_counter()
        audio_codes = codes.transpose(1, 2).clamp(0, dac_config.codebook_size - 1)
        codec.decode(audio_codes=audio_codes)
        sync(device)
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
        "warmup_seconds": round(warmup, 2),
        "steps_per_second": round(steps / generated, 1),
        "generate_seconds": round(generated, 2),
        "codec_decode_seconds": round(decoded, 3),
        "real_time_factor": round((generated + decoded) / args.seconds, 3),
    }


def prompt_audio(seconds: float) -> np.ndarray:
    """A stand-in reference recording: a wavering 180 Hz tone with its harmonics and a little noise."""
    t = np.arange(int(seconds * 44100)) / 44100
    pitch = 180 + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / 44100
    wave = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.2
    wave += np.random.default_rng(0).standard_normal(t.size) * 0.01
    return wave.astype(np.float32)


def speak(engine: DiaEngine, device: str, text: str, prompt: VoicePrompt | None = None) -> dict:
    """One job through the engine, timed from the request to the last sample on the host."""
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    chunks = list(engine.synthesize(SynthesisRequest(text=text, voice="dia", seed=1, prompt=prompt)))
    wall = time.perf_counter() - started
    samples = np.concatenate([chunk.samples for chunk in chunks])
    audio_seconds = samples.size / chunks[0].sample_rate
    vram = engine.vram()
    return {
        "chunks": len(chunks),
        "sample_rate": chunks[0].sample_rate,
        "audio_seconds": round(audio_seconds, 2),
        "frames": samples.size // 512,
        "wall_seconds": round(wall, 2),
        "frames_per_second": round(samples.size / 512 / wall, 1),
        "real_time_factor": round(wall / audio_seconds, 3) if audio_seconds else None,
        "peak_vram_gb": round(vram["peak_gb"], 2),
        "over_budget": vram["over_budget"],
        "finite": bool(np.isfinite(samples).all()),
    }


def fill_gpu() -> list[torch.Tensor]:
    """Take (nearly) all free GPU memory with plain allocations, halving the request after each refusal."""
    torch.cuda.empty_cache()
    held: list[torch.Tensor] = []
    size = torch.cuda.mem_get_info()[0]
    while size >= 1 << 20:
        try:
            held.append(torch.empty(size, dtype=torch.uint8, device="cuda"))
        except torch.cuda.OutOfMemoryError:
            size //= 2
    return held


def out_of_memory(engine: DiaEngine, device: str) -> dict:
    """A cloning job on a full GPU must fail as GpuOutOfMemory; the next one, with the memory back, must work."""
    engine.generation = dataclasses.replace(engine.generation, max_new_tokens=64)
    text = "[S1] This job finds the GPU full."
    prompt = VoicePrompt(audio=prompt_audio(PROMPT_SECONDS), transcript=PROMPT_TRANSCRIPT)
    used_before = engine.vram()["used_gb"]
    held: list[torch.Tensor] = []
    restore = None
    if device == "cuda":
        held = fill_gpu()
    else:  # no GPU to fill: the model raises what torch raises on a full GPU
        model = engine._model
        restore = model.generate

        def full_gpu(*args, **kwargs):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

        model.generate = full_gpu
    held_gb = sum(t.numel() for t in held) / 1e9
    try:
        speak(engine, device, text, prompt=prompt)
        raised = None
    except GpuOutOfMemory as exc:
        raised = f"GpuOutOfMemory from {type(exc.__cause__).__name__}"
    except Exception as exc:  # what the engine let through unconverted
        raised = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        held.clear()
        if restore is not None:
            engine._model.generate = restore
    if device == "cuda":
        torch.cuda.empty_cache()
    used_after = engine.vram()["used_gb"]
    gc.collect()  # memory that only a garbage collection frees was held by the failed job's traceback
    used_after_gc = engine.vram()["used_gb"]
    record = {
        "simulated": device != "cuda",
        "filled_gb": round(held_gb, 2),
        "raised": raised,
        "converted": bool(raised and raised.startswith("GpuOutOfMemory")),
        "used_gb_before": round(used_before, 3),
        "used_gb_after": round(used_after, 3),
        "used_gb_after_gc": round(used_after_gc, 3),
    }
    try:
        after = speak(engine, device, text, prompt=prompt)
        record.update(recovered=after["audio_seconds"] > 0 and after["finite"], next_job=after)
    except Exception as exc:
        record.update(recovered=False, next_job_error=f"{type(exc).__name__}: {exc}"[:300])
    return record


def run_engine(variant: str, args, folder: Path, device: str, emit) -> None:
    """DiaEngine as a worker runs it: load, warm up, plain text, a cloned voice, then (bf16) the OOM path."""
    # Dia's last 16 steps (the longest codebook delay, then EOS) make no frame of their own.
    steps = int(args.seconds * FRAMES_PER_SECOND) + 16
    engine = DiaEngine(
        model_id=str(folder / "dia"),
        codec_id=str(folder / "dac"),
        use_bnb=variant == "engine-int8",
        device=device,
        generation=GenerationSettings(max_new_tokens=64),
    )
    started = time.perf_counter()
    engine.load()
    load_seconds = time.perf_counter() - started
    vram = engine.vram()
    emit(
        {
            "variant": f"{variant}:load",
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "dtype": engine.dtype_name,
            "load_seconds": round(load_seconds, 2),
            "vram_gb": round(vram["used_gb"], 2),
            "peak_vram_gb": round(vram["peak_gb"], 2),
            "vram_budget_gb": vram["budget_gb"],
        }
    )

    def warm_up() -> dict:
        try:
            return speak(engine, device, "[S1] Warm up.")
        finally:
            engine.generation = dataclasses.replace(engine.generation, max_new_tokens=steps)

    stages = [
        ("warmup", warm_up),
        ("plain", lambda: speak(engine, device, TEXT)),
        (
            "clone",
            lambda: {
                "prompt_seconds": PROMPT_SECONDS,
                **speak(
                    engine,
                    device,
                    TEXT,
                    prompt=VoicePrompt(audio=prompt_audio(PROMPT_SECONDS), transcript=PROMPT_TRANSCRIPT),
                ),
            },
        ),
    ]
    if variant == "engine":
        stages.append(("oom", lambda: out_of_memory(engine, device)))
    for stage, measure in stages:
        try:
            record = {"variant": f"{variant}:{stage}", **measure()}
        except Exception as exc:  # one failing stage must not hide the others
            record = {"variant": f"{variant}:{stage}", "error": f"{type(exc).__name__}: {exc}"[:500]}
        emit(record)


def child(args) -> None:
    warnings.filterwarnings("ignore", message="Unfeasible length constraints")  # min_new_tokens, see above
    warnings.filterwarnings("ignore", message="`max_length` is ignored when `padding`")
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32

    def emit(record: dict) -> None:
        print(json.dumps(record), flush=True)
        with args.result_file.open("a") as out:
            out.write(json.dumps(record) + "\n")

    try:
        if args.child.startswith("engine"):
            run_engine(args.child, args, args.checkpoint, device, emit)
        else:
            emit(run_raw(args.child, args, args.checkpoint, device, dtype))
    except Exception as exc:  # report it as this variant's result; the parent goes on with the next one
        emit({"variant": args.child, "error": f"{type(exc).__name__}: {exc}"[:500]})


# ----------------------------------------------------------------------------------------------------------
# The parent: builds the checkpoint once, then runs each variant in a process of its own
# ----------------------------------------------------------------------------------------------------------
def run_variant(variant: str, args, folder: Path, limit: float) -> list[dict]:
    result_file = folder / f"{variant}.jsonl"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", variant, "--checkpoint", str(folder)]
    command += ["--result-file", str(result_file), "--seconds", str(args.seconds)]
    command += ["--tiny"] if args.tiny else []
    started = time.perf_counter()
    try:
        code = subprocess.run(command, timeout=limit, check=False).returncode  # noqa: S603 (our own script)
        problem = f"exited with code {code}" if code else None
    except subprocess.TimeoutExpired:
        problem = f"killed after its limit of {limit:.0f} s"
    records = []
    for line in result_file.read_text().splitlines() if result_file.exists() else ():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # the last line of a process killed while writing it
            continue
    if problem:
        records.append({"variant": variant, "error": problem, "seconds": round(time.perf_counter() - started, 1)})
        print(json.dumps(records[-1]), flush=True)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="audio seconds generated per timed run")
    parser.add_argument("--tiny", action="store_true", help="1-layer model on the CPU: checks the script only")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds for the whole run, checkpoint included")
    parser.add_argument("--checkpoint-dtype", choices=("bfloat16", "float32"), default="bfloat16")
    parser.add_argument("--out", type=Path, help="also write all results to this JSON file (after each variant)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    started = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; the variants inherit it
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    checkpoint_dtype = getattr(torch, args.checkpoint_dtype) if device == "cuda" else torch.float32
    results: list[dict] = []

    def report(*records: dict, show: bool = True) -> None:
        results.extend(records)
        for record in records if show else ():
            print(json.dumps(record), flush=True)
        if args.out:
            args.out.write_text(json.dumps(results, indent=2))

    report(
        {
            "variant": "env",
            "python": platform.python_version(),
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "cuda": torch.version.cuda,
            **versions(),
        }
    )
    with tempfile.TemporaryDirectory(prefix="dia-bench-") as tmp:
        folder = Path(tmp)
        try:
            report(build_checkpoint(folder, args.tiny, device, checkpoint_dtype))
        except Exception as exc:
            report({"variant": "checkpoint", "error": f"{type(exc).__name__}: {exc}"[:500]})
            return
        for variant in args.variants.split(","):
            left = args.budget - (time.perf_counter() - started)
            if variant not in VARIANT_LIMITS:
                report({"variant": variant, "error": f"unknown variant (known: {', '.join(VARIANT_LIMITS)})"})
            elif "int8" in variant and device != "cuda":
                report({"variant": variant, "skipped": "bitsandbytes 8-bit needs CUDA"})
            elif left < MIN_VARIANT_SECONDS:
                report({"variant": variant, "skipped": f"only {left:.0f} s of the --budget left"})
            else:
                report(*run_variant(variant, args, folder, min(VARIANT_LIMITS[variant], left)), show=False)
    report({"variant": "total", "seconds": round(time.perf_counter() - started, 1)})


if __name__ == "__main__":
    main()
