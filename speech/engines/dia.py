"""Dia-1.6B through transformers' DiaForConditionalGeneration: dialogue, nonverbals, cloning by audio prompt.

Weights come from `model_id` at a pinned `revision` (a local folder, or a hub id fetched at deploy time with a
token); the DAC codec likewise from `codec_id`. bf16 on CUDA, fp32 on CPU, 8-bit through bitsandbytes on request.
Cloning: the reference audio and its transcript go before the new text, and the model continues in that voice.
Long text is cut at sentence boundaries into segments of about `chunk_seconds`, each generated with the same prompt
and the same seed, so the voice does not drift.

Serving (issue 12). Decoding runs in our own loop (`dia_decode.DecodeLoop`): a static KV cache, the decode step
compiled per shape bucket and, on CUDA, captured as a CUDA graph; several requests decode together
(`synthesize_batch`, fed by `speech.batching.BatchScheduler`); audio leaves as it decodes, in pieces cut from the
DAC codec's output with enough context on both sides that the pieces join sample-exactly. All GPU work happens on
one thread owned by the engine (torch 2.11's compiled graphs and CUDA graphs are not safe across threads), whatever
thread calls in.

What `seed` guarantees. Each request samples from its own torch.Generator seeded with its seed, with the draws
`generate` would make for it alone, so the seed alone picks the randomness, whoever shares the batch. The logits it
samples from are computed in a batch, though: on the CPU in float32 a request's tokens have matched its batch-of-one
tokens in every test, but on a GPU in bf16 the matrix kernels round differently for different batch shapes, so a
request decoded in a batch of 8 can come out as a different (equally valid) take from the same request alone. Same
seed, same bucket shape, same neighbours' count: the same audio. Cached audio is keyed by seed and stays valid; a
re-synthesis may differ.

Where the parts live: `dia_settings` (constants, errors, settings, results), `dia_buckets` (shape buckets),
`dia_prompts` (requests into decode items), `dia_batch` (the GPU thread, batching, the OOM shrink), `dia_stream`
(codec windows), and the decode loop in `dia_decode` on `dia_step` (compiled step, CUDA graphs, warm-up),
`dia_cache` (static KV cache) and `dia_sampling` (token selection, delay pattern).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from speech.text import dialogue_chunks

from .base import EngineCapabilities, EngineVoice, PcmChunk, SynthesisRequest
from .dia_batch import DiaBatching
from .dia_buckets import DiaBuckets
from .dia_prompts import DiaPrompts
from .dia_sampling import Sampling
from .dia_settings import (
    CHARS_PER_SECOND,
    HOP,
    SAMPLE_RATE,
    TOKENS_PER_SECOND,
    BatchResult,
    GenerationSettings,
    GpuOutOfMemory,
    InvalidVoicePrompt,
    PieceCallback,
    StreamSettings,
    TextTooLong,
    VoicePromptTooLong,
)
from .dia_stream import DiaStreaming

# The engine's public names, importable from here as before the split.
__all__ = [
    "CHARS_PER_SECOND",
    "HOP",
    "SAMPLE_RATE",
    "TOKENS_PER_SECOND",
    "BatchResult",
    "DiaBuckets",
    "DiaEngine",
    "GenerationSettings",
    "GpuOutOfMemory",
    "InvalidVoicePrompt",
    "PieceCallback",
    "StreamSettings",
    "TextTooLong",
    "VoicePromptTooLong",
]

logger = logging.getLogger(__name__)


class DiaEngine(DiaBatching, DiaStreaming, DiaPrompts):
    """Dia behind the Engine protocol, plus batching (`synthesize_batch`), `warm_up` and `describe`.

    Serving settings (keyword-only; the worker maps them from its environment):
    - compile: "auto" (compiled on CUDA, eager on the CPU), "on" or "off". 8-bit (bitsandbytes) weights decode eagerly.
    - cuda_graphs: capture each bucket's compiled step as a CUDA graph (CUDA only; default on).
    - buckets: `DiaBuckets` or a dict of its fields (batch, text, prompt, new_tokens); defaults follow
      `max_batch` and the generation length.
    - max_batch: requests decoded together (more are decoded in consecutive batches).
    - warmup_budget_s: seconds `warm_up()` may spend compiling buckets, likeliest first.
    - lazy_compile: a bucket warm-up did not reach compiles when first needed (True) or decodes eagerly (False).
    - compile_cache_dir: where Inductor keeps its caches (FX graphs, kernels, autotuning), so a restart reuses them
      (sets TORCHINDUCTOR_CACHE_DIR for the process).
    - stream: `StreamSettings` or a dict (enabled, first_frames, frames, context_frames).
    - simulate_compile_failure: make compilation fail (tests, and a drill for the eager fallback).
    - compile_backend: torch.compile backend ("inductor"; tests use "aot_eager").
    """

    name = "dia"
    capabilities = EngineCapabilities(cloning=True, streaming=True, gpu=True)

    def __init__(
        self,
        model_id: str = "nari-labs/Dia-1.6B-0626",
        revision: str = "main",
        codec_id: str = "descript/dac_44khz",
        codec_revision: str = "main",
        token: str | None = None,
        use_bnb: bool = False,
        device: str | None = None,
        vram_budget_gb: float = 14.5,
        generation: GenerationSettings | dict | None = None,
        *,
        compile: str = "auto",
        cuda_graphs: bool = True,
        buckets: DiaBuckets | dict | None = None,
        max_batch: int = 8,
        warmup_budget_s: float = 120.0,
        compile_cache_dir: str | None = None,
        stream: StreamSettings | dict | None = None,
        simulate_compile_failure: bool = False,
        compile_backend: str = "inductor",
        lazy_compile: bool = True,
        prompt_cache_size: int = 32,
    ) -> None:
        self.model_id = model_id
        self.model_revision = revision
        self.codec_id = codec_id
        self.codec_revision = codec_revision
        self.token = token or None
        self.use_bnb = use_bnb
        self.requested_device = device
        self.vram_budget_gb = vram_budget_gb
        if isinstance(generation, dict):
            generation = GenerationSettings(**{k: v for k, v in generation.items() if v is not None})
        self.generation = generation or GenerationSettings()
        if compile not in ("auto", "on", "off"):
            raise ValueError(f"compile must be 'auto', 'on' or 'off', not {compile!r}")
        self.compile_setting = compile
        self.cuda_graphs = cuda_graphs
        self.max_batch = max(1, int(max_batch))
        self.buckets = DiaBuckets.coerce(buckets, max_batch=self.max_batch, max_new_tokens=self.generation.new_tokens)
        self.max_batch = min(self.max_batch, self.buckets.batch[-1])
        self.warmup_budget_s = warmup_budget_s
        self.compile_cache_dir = compile_cache_dir
        if isinstance(stream, dict):
            stream = StreamSettings(**stream)
        self.stream = stream or StreamSettings()
        self.simulate_compile_failure = simulate_compile_failure
        self.compile_backend = compile_backend
        self.lazy_compile = lazy_compile
        self.device = "cpu"
        self.dtype_name = "float32"
        self._model = None
        self._processor = None
        self._codec = None
        self._loop = None
        self._lock = threading.Lock()
        self._prompt_cache: OrderedDict[str, object] = OrderedDict()
        self._prompt_cache_size = prompt_cache_size
        self._gpu_thread_id: int | None = None
        self._gpu = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="dia-gpu", initializer=self._mark_gpu_thread
        )
        self._warm_report: dict | None = None
        self._compile_off_reason: str | None = None
        self.counters = {"batches": 0, "items": 0, "failed_items": 0, "oom_shrinks": 0, "steps": 0}

    # ------------------------------------------------------------------------------------------------------
    # Loading
    # ------------------------------------------------------------------------------------------------------
    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import (
                DacModel,
                DiaFeatureExtractor,
                DiaForConditionalGeneration,
                DiaProcessor,
                DiaTokenizer,
            )

            if self.model_revision == "main" and not Path(self.model_id).is_dir():
                logger.warning(
                    "DIA_MODEL_REV is 'main' for %s: the weights can change under you. Pin a commit in production.",
                    self.model_id,
                )
            self.device = self.requested_device or ("cuda" if torch.cuda.is_available() else "cpu")
            on_cuda = self.device.startswith("cuda")
            # sdpa: our decode loop passes its own 4-D masks, which sdpa and eager attention take (flash does not).
            kwargs: dict = {"revision": self.model_revision, "token": self.token, "attn_implementation": "sdpa"}
            if on_cuda and self.use_bnb:
                from transformers import BitsAndBytesConfig

                kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
                kwargs["device_map"] = self.device
                self.dtype_name = "int8"
            else:
                kwargs["dtype"] = torch.bfloat16 if on_cuda else torch.float32
                self.dtype_name = "bfloat16" if on_cuda else "float32"
            model = DiaForConditionalGeneration.from_pretrained(self.model_id, **kwargs)
            if "device_map" not in kwargs:
                model = model.to(self.device)
            model.eval()
            # The processor is assembled here rather than loaded, because a saved DiaProcessor records the
            # codec by absolute path; the codec is named by its own id and revision instead.
            codec = DacModel.from_pretrained(self.codec_id, revision=self.codec_revision, token=self.token)
            codec = codec.to(self.device).eval()
            self._processor = DiaProcessor(
                feature_extractor=DiaFeatureExtractor(sampling_rate=SAMPLE_RATE, hop_length=512),
                tokenizer=DiaTokenizer(),
                audio_tokenizer=codec,
            )
            self._codec = codec
            self._model = model
            self._loop = self._build_loop()
            vram = self.vram()
            logger.info(
                "DIA model loaded: %s@%s on %s (%s), decoding %s; VRAM %.2f GB of %.1f GB budget",
                self.model_id,
                self.model_revision,
                self.device,
                self.dtype_name,
                self._loop.mode,
                vram["used_gb"],
                vram["budget_gb"],
            )

    def _build_loop(self):
        from .dia_decode import DecodeLoop

        compiled = self._wants_compile()
        if compiled and self.compile_cache_dir:
            # Inductor's FX graph cache, autotuning results and Triton kernels all live under this folder: a
            # restarted worker finds them there and compiles in a fraction of the first time.
            Path(self.compile_cache_dir).mkdir(parents=True, exist_ok=True)
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(self.compile_cache_dir)
        loop = DecodeLoop(
            self._model,
            buckets=self.buckets,
            sampling=self._sampling(),
            compiled=compiled,
            cuda_graphs=self.cuda_graphs,
            compile_backend=self.compile_backend,
            fail_compile=self.simulate_compile_failure,
            lazy_compile=self.lazy_compile,
        )
        if not compiled and self._compile_off_reason:
            loop.fallback_reason = self._compile_off_reason
        loop.oom_types = self._oom_errors()
        return loop

    def _sampling(self) -> Sampling:
        settings = self.generation
        return Sampling(
            guidance_scale=settings.guidance_scale,
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k,
            do_sample=settings.do_sample,
        )

    def _wants_compile(self) -> bool:
        on_cuda = self.device.startswith("cuda")
        if self.compile_setting == "off":
            return False
        if self.use_bnb and on_cuda:
            self._compile_off_reason = "8-bit weights (bitsandbytes) are decoded eagerly"
            return False
        return self.compile_setting == "on" or on_cuda

    def vram(self) -> dict:
        """GPU memory held by this process against the budget (zeros on CPU)."""
        import torch

        used = peak = 0.0
        if self.device.startswith("cuda") and torch.cuda.is_available():
            used = torch.cuda.memory_allocated(self.device) / 1e9
            peak = torch.cuda.max_memory_allocated(self.device) / 1e9
        return {
            "used_gb": used,
            "peak_gb": peak,
            "budget_gb": self.vram_budget_gb,
            "over_budget": peak > self.vram_budget_gb,
        }

    def voices(self) -> list[EngineVoice]:
        # Dia has no fixed voices: without a prompt it invents one; with a prompt it clones it.
        return [EngineVoice(id="dia", language="en", sample_rate=SAMPLE_RATE)]

    # ------------------------------------------------------------------------------------------------------
    # Warm-up and health
    # ------------------------------------------------------------------------------------------------------
    def warm_up(self, budget_s: float | None = None) -> dict:
        """Compile the decode step of each bucket (likeliest first) within `budget_s`; call at worker start.

        Buckets left over compile when a batch first needs them. Returns what was warmed, for the start-up log.
        """
        self.load()
        budget = self.warmup_budget_s if budget_s is None else budget_s

        def run() -> dict:
            started = time.perf_counter()
            # The KV cache and step buffers for the largest bucket, allocated now: a GPU too small for the
            # configured buckets fails here, at worker start, not in a customer's job.
            self._loop.allocate()
            report = self._loop.warm_up(budget)
            self._codec_warm_up()
            report["seconds"] = round(time.perf_counter() - started, 2)
            return report

        report = self._on_gpu(run)
        report["compile_mode"] = self._loop.mode
        report["fallback_reason"] = self._loop.fallback_reason
        self._warm_report = report
        logger.info(
            "DIA warm-up: %s, %d of %d buckets ready in %.1f s%s",
            report["compile_mode"],
            len(report["warmed"]),
            len(self.buckets.shapes()),
            report["seconds"],
            f" (fallback: {report['fallback_reason']})" if report["fallback_reason"] else "",
        )
        return report

    def _codec_warm_up(self) -> None:
        import torch

        codes = torch.zeros(1, len(self._model.config.delay_pattern), 8, dtype=torch.long, device=self.device)
        with torch.inference_mode():
            self._codec.decode(audio_codes=codes)

    def describe(self) -> dict:
        """For /health: how this engine decodes and what is ready."""
        loop = self._loop
        return {
            "compile_mode": loop.mode if loop is not None else ("compiled" if self._wants_compile() else "eager"),
            "fallback_reason": loop.fallback_reason if loop is not None else self._compile_off_reason,
            # Compilation was tried and failed (not decided against, as for 8-bit weights): a degraded server.
            "compile_failed": bool(loop is not None and loop.fallback_reason and not self._compile_off_reason),
            "compile_setting": self.compile_setting,
            "cuda_graphs": bool(loop and loop.cuda_graphs),
            "buckets": self.buckets.as_dict(),
            "warmed": list(loop.warmed) if loop is not None else [],
            "max_batch": self.max_batch,
            "device": self.device,
            "dtype": self.dtype_name,
            "cache_gb": round(loop.cache_bytes() / 1e9, 3) if loop is not None else 0.0,
            "streaming": self.stream.enabled,
            "warm_up_seconds": (self._warm_report or {}).get("seconds"),
            "counters": dict(self.counters),
        }

    # ------------------------------------------------------------------------------------------------------
    # Synthesis
    # ------------------------------------------------------------------------------------------------------
    def segments(self, text: str, *, max_chars: int = 0) -> list[str]:
        """Dialogue-aware pieces of about one generation (`chunk_seconds`); `max_chars` does not apply."""
        return dialogue_chunks(text, max(40, int(self.generation.chunk_seconds * CHARS_PER_SECOND)))

    def synthesize(self, request: SynthesisRequest) -> Iterator[PcmChunk]:
        """Yield the audio of `request` in order as it decodes; each segment's pieces join without a gap.

        The segments of a long text decode together as one batch (the same prompt and seed for each; without a
        seed one is drawn for the whole text), so a long text takes little longer than its longest segment.
        """
        self.load()
        seed = request.seed if request.seed is not None else secrets.randbits(63)
        requests = [
            SynthesisRequest(text=segment, voice=request.voice, speed=request.speed, seed=seed, prompt=request.prompt)
            for segment in self.segments(request.text)
        ]
        yield from self.stream_many(requests)
