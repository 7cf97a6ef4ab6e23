"""Dia-1.6B on a GPU with random weights (no download): peak VRAM, decode steps/s and real-time factor.

Saves the full-size architecture from transformers' default DiaConfig and a full-size DAC codec, both randomly
initialised, to a temporary folder in the layout the production loader reads, then runs each variant in its own
process (a crash, a hang or a CUDA error in one cannot hide the others), under a time budget for the whole run:

- `engine`, `engine-int8`: our production class `speech.engines.dia.DiaEngine` (bf16, and 8-bit through
  bitsandbytes as with DIA_USE_BNB=1): load seconds and VRAM, then plain text and a cloned voice (an audio prompt
  with its transcript): wall seconds, audio seconds, real-time factor, peak VRAM. `engine` ends with the CUDA
  out-of-memory path: with the GPU filled up, a job must fail as GpuOutOfMemory and the next job must work.
- `eager`, `compile`, `int8`: the bare model's generate for exactly `--seconds` of frames, then the codec.
- `serve-eager`, `serve-compiled`: the serving path (issue 12): DiaEngine.synthesize_batch at each batch size in
  `--batches` (decode steps/s per stream, aggregate steps/s and real-time factor, time to first audio, peak VRAM),
  then closed loops of `--clients` concurrent jobs through speech.batching.BatchScheduler (job p50/p95, time to
  first audio p50/p95, batch occupancy). `serve-compiled` warms up (compiles) every bucket first and reports it;
  `serve-recompile`, run after it in a fresh process, only warms up again from the on-disk compiler cache.

Random weights make EOS the top logit about once in 1025 steps, which would end a timed run at a random point: the
saved generation config suppresses it (`min_new_tokens`), so every run is `max_new_tokens` long.

    python bench/dia_gpu.py --seconds 5 --out dia.json   # on a CUDA machine: one JSON line per variant or stage
    python bench/dia_gpu.py --tiny                       # a 1-layer model on the CPU, to check the script itself
    python bench/dia_gpu.py --variants serve-eager,serve-compiled,serve-recompile --seconds 10 --budget 3000 \
        --out dia_serving.json                           # the serving matrix on a GPU (a 10 s utterance)
    python bench/dia_gpu.py --device cpu --preset small --variants serve-eager,serve-compiled,serve-recompile \
        --steps 128 --compile-batches 1,8 --budget 1500  # the same matrix, shortened, on a CPU
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
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from transformers import DacConfig, DacModel, DiaConfig, DiaForConditionalGeneration, DiaTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from speech.batching import BatchScheduler
from speech.engines.base import SynthesisRequest, VoicePrompt
from speech.engines.dia import TOKENS_PER_SECOND, DiaEngine, GenerationSettings, GpuOutOfMemory
from speech.engines.dia_testing import small_configs, tiny_configs

FRAMES_PER_SECOND = TOKENS_PER_SECOND  # DAC frames (decode steps) per second of 44.1 kHz audio
TEXT = (
    "[S1] Welcome back to the show. Today we talk about building speech products that people trust. "
    "[S2] (laughs) Trust is the whole game."
)
PROMPT_TRANSCRIPT = "[S1] This is how I sound when I read a short sentence out loud."
PROMPT_SECONDS = 3.0
# About 10 s of speech at Dia's ~14 characters per second: the serving variants' utterance.
SERVING_TEXT = (
    "[S1] Welcome back to the show. Today we talk about building speech products that people trust, "
    "and why latency matters. [S2] (laughs) Trust is the whole game."
)
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
    "serve-eager": 900,
    "serve-compiled": 1500,
    "serve-recompile": 900,
}
MIN_VARIANT_SECONDS = 30  # a variant that cannot get this much of the budget is skipped, not started


def configs(preset: str) -> tuple[DiaConfig, DacConfig]:
    if preset == "tiny":
        return tiny_configs()
    if preset == "small":
        return small_configs()
    return DiaConfig(), DacConfig(sampling_rate=44100, decoder_hidden_size=1536, n_codebooks=9)


def source_commit() -> str | None:
    """The commit the bench ran from (and whether the tree had changes), for the record."""
    git = ["git", "-C", str(Path(__file__).resolve().parent.parent)]
    try:
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)  # noqa: S603
        dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True)  # noqa: S603
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip()[:12] + ("+changes" if dirty.stdout.strip() else "")


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
def build_checkpoint(folder: Path, preset: str, device: str, dtype: torch.dtype) -> dict:
    """A random Dia and DAC codec saved as `folder/dia` and `folder/dac` (the layout of dia_testing.build_tiny_dia)."""
    started = time.perf_counter()
    dia_config, dac_config = configs(preset)
    torch.manual_seed(0)
    built_on = device
    try:
        with torch.device(device):  # random init on the GPU takes seconds, on the CPU tens of seconds
            model, codec = DiaForConditionalGeneration(dia_config), DacModel(dac_config)
    except Exception:  # slower, but the same weights' shapes
        built_on = "cpu"
        model, codec = DiaForConditionalGeneration(dia_config), DacModel(dac_config)
    model.generation_config.min_new_tokens = dia_config.decoder_config.max_position_embeddings
    # Our serving loop does not read generation_config: there, EOS never wins because its logit is always 0
    # (the top of 1024 random logits is well above 0), so every timed generation runs to its step budget too.
    with torch.no_grad():
        model.logits_dense.weight[dia_config.decoder_config.eos_token_id] = 0.0
    parameters = sum(p.numel() for p in model.parameters())
    model.to(dtype).save_pretrained(folder / "dia")
    codec.save_pretrained(folder / "dac")
    del model, codec
    if device == "cuda":
        torch.cuda.empty_cache()
    return {
        "variant": "checkpoint",
        "preset": preset,
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
    _, dac_config = configs(args.preset)
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
    else:  # no GPU to fill: the decode loop raises what torch raises on a full GPU
        loop = engine._loop
        restore = loop.decode

        def full_gpu(*args, **kwargs):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

        loop.decode = full_gpu
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
            engine._loop.decode = restore
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
        # the warm-up and OOM stages generate 64 steps, the timed ones `steps`: a bucket for each
        buckets={"new_tokens": (64, steps)},
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


# ----------------------------------------------------------------------------------------------------------
# Serving (issue 12): DiaEngine's own decode loop, batched, and the batch scheduler under concurrent jobs
# ----------------------------------------------------------------------------------------------------------
def serving_steps(args) -> int:
    # Dia's last 16 steps (the longest codebook delay, then EOS) make no frame of their own.
    return args.steps or int(args.seconds * FRAMES_PER_SECOND) + 16


def serving_engine(args, folder: Path, device: str, compiled: bool, batches: list[int]) -> DiaEngine:
    steps = serving_steps(args)
    return DiaEngine(
        model_id=str(folder / "dia"),
        codec_id=str(folder / "dac"),
        device=device,
        generation=GenerationSettings(max_new_tokens=steps),
        compile="on" if compiled else "off",
        buckets={"batch": tuple(batches), "text": (256,), "prompt": (1,), "new_tokens": (steps,)},
        max_batch=max(batches),
        warmup_budget_s=0.6 * float(args.budget),  # leave time for the measurements
        compile_cache_dir=str(args.compile_cache_dir),
    )


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def serve_batch(engine: DiaEngine, device: str, batch: int) -> dict:
    """`batch` copies of the utterance (different seeds) decoded together, timed from the call to the last piece."""
    requests = [SynthesisRequest(text=SERVING_TEXT, voice="dia", seed=1000 + n) for n in range(batch)]
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    first: dict[int, float] = {}
    started = time.perf_counter()
    results = engine.synthesize_batch(
        requests, on_piece=lambda index, piece: first.setdefault(index, time.perf_counter() - started)
    )
    wall = time.perf_counter() - started
    errors = [str(r.error) for r in results if r.error is not None]
    if errors:
        return {"batch": batch, "error": errors[0][:300]}
    steps = results[0].steps
    audio_seconds = results[0].codes.shape[0] * 512 / 44100
    ttfa = sorted(first.values())
    return {
        "batch": batch,
        "steps": steps,
        "audio_seconds": round(audio_seconds, 2),
        "wall_seconds": round(wall, 2),
        "steps_per_second_per_stream": round(steps / wall, 1),
        "aggregate_steps_per_second": round(batch * steps / wall, 1),
        "aggregate_real_time_factor": round(wall / (batch * audio_seconds), 3),
        "aggregate_x_real_time": round(batch * audio_seconds / wall, 3),
        "time_to_first_audio_s": {"first": round(ttfa[0], 3), "p50": percentile(ttfa, 50), "max": round(ttfa[-1], 3)},
        "peak_vram_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if device == "cuda" else None,
        "finite": all(bool(np.isfinite(r.audio()).all()) for r in results),
    }


def closed_loop(engine: DiaEngine, clients: int, jobs_per_client: int, window_ms: float, audio_seconds: float) -> dict:
    """`clients` threads, each submitting the utterance, waiting for it, and submitting again (a closed loop)."""
    scheduler = BatchScheduler(engine, window_ms=window_ms)
    latencies: list[float] = []
    firsts: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for j in range(jobs_per_client):
            request = SynthesisRequest(text=SERVING_TEXT, voice="dia", seed=10_000 + 100 * k + j)
            started = time.perf_counter()
            first: list[float] = []

            def on_piece(piece, started=started, first=first) -> None:
                if not first:
                    first.append(time.perf_counter() - started)

            try:
                scheduler.submit(request, f"client-{k}", on_piece=on_piece)
            except Exception as exc:
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            with lock:
                latencies.append(time.perf_counter() - started)
                firsts.extend(first)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    scheduler.shutdown()
    stats = scheduler.stats()
    return {
        "clients": clients,
        "jobs": len(latencies),
        "failed": failures[:3],
        "job_p50_s": percentile(latencies, 50),
        "job_p95_s": percentile(latencies, 95),
        "time_to_first_audio_p50_s": percentile(firsts, 50),
        "time_to_first_audio_p95_s": percentile(firsts, 95),
        "jobs_per_second": round(len(latencies) / wall, 3),
        "aggregate_x_real_time": round(len(latencies) * audio_seconds / wall, 3),
        "batch_size_mean": stats["batch_size_mean"],
        "occupancy": stats["occupancy"],
        "queue_wait_p50_s": stats["queue_wait_p50_s"],
        "queue_wait_p95_s": stats["queue_wait_p95_s"],
    }


def run_serving(variant: str, args, folder: Path, device: str, emit) -> None:
    compiled = variant in ("serve-compiled", "serve-recompile")
    batches = [int(b) for b in (args.compile_batches if compiled and args.compile_batches else args.batches).split(",")]
    engine = serving_engine(args, folder, device, compiled, batches)
    started = time.perf_counter()
    engine.load()
    load_seconds = time.perf_counter() - started
    warm = engine.warm_up()
    emit(
        {
            "variant": f"{variant}:warm-up",
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "dtype": engine.dtype_name,
            "threads": torch.get_num_threads(),
            "load_seconds": round(load_seconds, 2),
            "steps": serving_steps(args),
            **warm,
            "describe": engine.describe(),
        }
    )
    if variant == "serve-recompile":
        return
    engine.synthesize_batch([SynthesisRequest(text="[S1] Warm up.", voice="dia", seed=1)])  # first-call costs
    for batch in batches:
        try:
            record = serve_batch(engine, device, batch)
        except Exception as exc:  # one failing size must not hide the others
            record = {"batch": batch, "error": f"{type(exc).__name__}: {exc}"[:500]}
        emit({"variant": f"{variant}:batch", "mode": engine.describe()["compile_mode"], **record})
    for clients in (int(c) for c in args.clients.split(",")):
        try:
            audio_seconds = (serving_steps(args) - 16) * 512 / 44100
            record = closed_loop(engine, clients, args.jobs_per_client, args.window_ms, audio_seconds)
        except Exception as exc:
            record = {"clients": clients, "error": f"{type(exc).__name__}: {exc}"[:500]}
        emit({"variant": f"{variant}:closed-loop", "mode": engine.describe()["compile_mode"], **record})
    emit({"variant": f"{variant}:counters", **engine.describe()["counters"], "vram": engine.vram()})


def serving_summary(results: list[dict]) -> dict | None:
    """Batching's gain: aggregate decode throughput at batch 8 (and the largest) over batch 1, per mode."""
    if not any(str(r.get("variant", "")).startswith("serve-") for r in results):
        return None
    summary: dict = {"variant": "serving-summary"}
    for mode in ("serve-eager", "serve-compiled"):
        rows = {r["batch"]: r for r in results if r.get("variant") == f"{mode}:batch" and "error" not in r}
        if 1 not in rows:
            continue
        base = rows[1]["aggregate_steps_per_second"]
        summary[mode] = {
            f"aggregate_throughput_batch{b}_over_batch1": round(rows[b]["aggregate_steps_per_second"] / base, 2)
            for b in sorted(rows)
            if b != 1
        }
    eager = {r["batch"]: r for r in results if r.get("variant") == "serve-eager:batch" and "error" not in r}
    compiled = {r["batch"]: r for r in results if r.get("variant") == "serve-compiled:batch" and "error" not in r}
    summary["compiled_over_eager_steps_per_second"] = {
        str(b): round(compiled[b]["aggregate_steps_per_second"] / eager[b]["aggregate_steps_per_second"], 2)
        for b in sorted(set(eager) & set(compiled))
    }
    warm = {r["variant"]: r.get("seconds") for r in results if str(r.get("variant", "")).endswith(":warm-up")}
    summary["warm_up_seconds"] = warm
    return summary


def child(args) -> None:
    warnings.filterwarnings("ignore", message="Unfeasible length constraints")  # min_new_tokens, see above
    warnings.filterwarnings("ignore", message="`max_length` is ignored when `padding`")
    device = args.device
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if device == "cpu" and args.threads:
        torch.set_num_threads(args.threads)

    def emit(record: dict) -> None:
        print(json.dumps(record), flush=True)
        with args.result_file.open("a") as out:
            out.write(json.dumps(record) + "\n")

    try:
        if args.child.startswith("serve"):
            run_serving(args.child, args, args.checkpoint, device, emit)
        elif args.child.startswith("engine"):
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
    command += ["--preset", args.preset, "--device", args.device, "--threads", str(args.threads)]
    command += ["--steps", str(args.steps), "--batches", args.batches, "--clients", args.clients]
    command += ["--compile-batches", args.compile_batches, "--jobs-per-client", str(args.jobs_per_client)]
    command += ["--window-ms", str(args.window_ms), "--compile-cache-dir", str(args.compile_cache_dir)]
    command += ["--budget", str(limit)]
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
    parser.add_argument(
        "--preset", choices=("full", "small", "tiny"), help="model size (default: full; tiny with --tiny)"
    )
    parser.add_argument("--device", choices=("cuda", "cpu"), help="default: cuda when there is one (cpu with --tiny)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU (1: the least contention)")
    parser.add_argument(
        "--steps", type=int, default=0, help="serving: decode steps per job (default: --seconds' worth)"
    )
    parser.add_argument("--batches", default="1,2,4,8,16", help="serving: batch sizes to time")
    parser.add_argument("--compile-batches", default="", help="serve-compiled: batch sizes (default: --batches)")
    parser.add_argument("--clients", default="1,4,16", help="serving: concurrent jobs in each closed loop")
    parser.add_argument("--jobs-per-client", type=int, default=2)
    parser.add_argument("--window-ms", type=float, default=5.0, help="serving: the scheduler's batching window")
    parser.add_argument("--compile-cache-dir", type=Path, help="compiler cache (default: inside the run's folder)")
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
    args.preset = args.preset or ("tiny" if args.tiny else "full")
    args.device = args.device or ("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    device = args.device
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
            "commit": source_commit(),
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            **versions(),
        }
    )
    with tempfile.TemporaryDirectory(prefix="dia-bench-") as tmp:
        folder = Path(tmp)
        args.compile_cache_dir = args.compile_cache_dir or folder / "compiler-cache"
        try:
            report(build_checkpoint(folder, args.preset, device, checkpoint_dtype))
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
    summary = serving_summary(results)
    if summary:
        report(summary)
    report({"variant": "total", "seconds": round(time.perf_counter() - started, 1)})


if __name__ == "__main__":
    main()
