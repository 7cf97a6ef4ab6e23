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
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
import queue
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speech.errors import EngineError
from speech.text import dialogue_chunks

from .base import EngineCapabilities, EngineVoice, PcmChunk, SynthesisRequest, VoicePrompt
from .dia_decode import DecodeItem, DiaBuckets, RequestTooLong, Sampling

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
# Dia speaks roughly this many characters of English text per second of audio; used to size chunks.
CHARS_PER_SECOND = 14.0
TOKENS_PER_SECOND = 86  # DAC frames per second at 44.1 kHz with hop 512
HOP = 512  # samples per DAC frame


class GpuOutOfMemory(EngineError):
    code = "gpu_out_of_memory"


class TextTooLong(EngineError):
    code = "text_too_long"


class InvalidVoicePrompt(EngineError):
    code = "invalid_voice_prompt"


class VoicePromptTooLong(EngineError):
    code = "voice_prompt_too_long"


@dataclass(frozen=True)
class GenerationSettings:
    guidance_scale: float = 3.0
    temperature: float = 1.8
    top_p: float = 0.9
    top_k: int = 45
    chunk_seconds: float = 20.0
    max_new_tokens: int | None = None  # None: enough for one chunk (chunk_seconds of audio)
    do_sample: bool = True  # False: greedy (tests and comparisons; Dia sounds best sampled)

    @property
    def new_tokens(self) -> int:
        return self.max_new_tokens or int(self.chunk_seconds * TOKENS_PER_SECOND * 1.2)


@dataclass(frozen=True)
class StreamSettings:
    """How decoded frames become audio pieces.

    A piece is cut from a codec decode of its frames plus `context_frames` on each side (the DAC decoder's
    receptive field: with 12 frames the cut pieces match a whole-utterance decode to float rounding), so a piece
    waits for `context_frames` frames after it. The first piece is short (time to first audio); later ones longer
    (fewer codec calls and stream messages). `enabled=False`: one piece per generation, decoded at the end.
    """

    enabled: bool = True
    first_frames: int = 16
    frames: int = 86
    context_frames: int = 12


@dataclass
class BatchResult:
    """One request's outcome in a batch: its pieces in order, or the error that failed it alone."""

    pieces: list[PcmChunk] = field(default_factory=list)
    error: EngineError | None = None
    codes: np.ndarray | None = None  # the undelayed DAC codes (frames x codebooks)
    steps: int = 0
    seed: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def audio(self) -> np.ndarray:
        if not self.pieces:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([piece.samples for piece in self.pieces])


PieceCallback = Callable[[int, PcmChunk], None]


@dataclass
class _Job:
    """A request on its way through a batch: prepared input, pieces so far, and whether anyone still wants it."""

    index: int
    request: SynthesisRequest
    item: DecodeItem | None = None
    result: BatchResult = field(default_factory=BatchResult)
    emitted_frames: int = 0
    finished: bool = False  # decoded to the end: its result stands whatever happens to the rest of the batch


class _Calls:
    """The caller's hooks for one synthesize call, each request announced final exactly once."""

    def __init__(self, on_piece, on_final, is_cancelled) -> None:
        self._on_piece, self._on_final, self._is_cancelled = on_piece, on_final, is_cancelled
        self._announced: set[int] = set()

    def piece(self, job: _Job, piece: PcmChunk) -> None:
        if self._on_piece is not None:
            self._on_piece(job.index, piece)

    def final(self, job: _Job) -> None:
        if job.index in self._announced:
            return
        self._announced.add(job.index)
        if self._on_final is not None:
            self._on_final(job.index, job.result)

    def cancelled(self, job: _Job) -> bool:
        return bool(self._is_cancelled(job.index))


class DiaEngine:
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

    def _mark_gpu_thread(self) -> None:
        self._gpu_thread_id = threading.get_ident()

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

    def stream_many(self, requests: Sequence[SynthesisRequest]) -> Iterator[PcmChunk]:
        """Decode `requests` as batch items; yield request 0's pieces as they decode, then request 1's, ...

        A request that fails raises its error when its turn comes (the ones before it have been yielded). A request
        that decodes to no audio at all yields one empty piece. Closing the iterator early abandons the rest.
        """
        queues: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in requests]
        abandoned = threading.Event()

        def on_piece(index: int, piece: PcmChunk) -> None:
            queues[index].put(piece)

        def on_final(index: int, result: BatchResult) -> None:
            queues[index].put(result)

        future = self._submit_gpu(
            lambda: self._synthesize(requests, on_piece, on_final=on_final, is_cancelled=lambda i: abandoned.is_set())
        )
        try:
            for q in queues:
                got_any = False
                while not isinstance(item := q.get(), BatchResult):
                    got_any = True
                    yield item
                if item.error is not None:
                    raise item.error
                if not got_any:
                    yield PcmChunk(samples=np.zeros(0, dtype=np.float32), sample_rate=SAMPLE_RATE)
            future.result()
        finally:
            abandoned.set()

    def synthesize_batch(
        self,
        requests: Sequence[SynthesisRequest],
        on_piece: PieceCallback | None = None,
        *,
        on_final: Callable[[int, BatchResult], None] | None = None,
        is_cancelled: Callable[[int], bool] | None = None,
    ) -> list[BatchResult]:
        """Decode up to `max_batch` requests at a time together; each comes back with its pieces or its own error.

        A request is one generation (call `segments` first for long text). A request that cannot be prepared (a
        bad voice prompt, a text too long for the largest bucket) fails alone. A CUDA out-of-memory error halves
        the batch and retries the halves; a request that runs out of memory alone, or after part of its audio was
        already handed to `on_piece`, fails with GpuOutOfMemory. `on_piece(index, piece)` is called on the engine's
        GPU thread as pieces decode, in order for each request; the pieces are also in the results. Keep it quick
        (hand the piece to a queue): the whole batch waits for it. `on_final(index, result)` comes once per request
        as soon as its result is settled (before the batch ends); `is_cancelled(index)` lets a caller drop one.
        """
        self.load()
        return self._on_gpu(lambda: self._synthesize(requests, on_piece, on_final, is_cancelled))

    # -- the GPU thread ---------------------------------------------------------------------------------------
    def _submit_gpu(self, fn) -> concurrent.futures.Future:
        if threading.get_ident() == self._gpu_thread_id:
            future: concurrent.futures.Future = concurrent.futures.Future()
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
            return future
        return self._gpu.submit(fn)

    def _on_gpu(self, fn):
        return self._submit_gpu(fn).result()

    def close(self) -> None:
        """Stop the engine's GPU thread (after the work already queued)."""
        self._gpu.shutdown(wait=True)

    # -- one call of synthesize_batch, on the GPU thread ---------------------------------------------------
    def _synthesize(
        self,
        requests: Sequence[SynthesisRequest],
        on_piece: PieceCallback | None,
        on_final: Callable[[int, BatchResult], None] | None = None,
        is_cancelled: Callable[[int], bool] | None = None,
    ) -> list[BatchResult]:
        """Prepare each request (failures stay with their request), then decode them in groups of `max_batch`.

        `on_final(index, result)` is called once per request when its result can no longer change;
        `is_cancelled(index)` says a caller no longer wants a request (a batch whose requests are all unwanted
        stops early).
        """
        # `generation` may have been replaced since loading (tests and benches do): decode with what it says now.
        self._loop.set_sampling(self._sampling())
        calls = _Calls(on_piece, on_final, is_cancelled or (lambda index: False))
        jobs = [_Job(index=i, request=r) for i, r in enumerate(requests)]
        ready: list[_Job] = []
        for job in jobs:
            try:
                job.item = self._prepare(job.request)
                job.result.seed = job.item.seed
                ready.append(job)
            except EngineError as exc:
                job.result.error = exc
                calls.final(job)
        try:
            for start in range(0, len(ready), self.max_batch):
                self._run_group(ready[start : start + self.max_batch], calls)
        except Exception as exc:
            # Not a request's fault (a bug, a CUDA fault): every request still waiting fails with it, none is
            # reported as a success with missing audio.
            logger.exception("DIA batch failed")
            for job in ready:
                if not job.finished and job.result.error is None:
                    job.result.error = EngineError(f"synthesis failed: {type(exc).__name__}: {exc}"[:500])
                    job.result.error.__cause__ = exc
        finally:
            for job in jobs:
                calls.final(job)  # (once each: a request already final is not announced again)
            self.counters["items"] += len(jobs)
            self.counters["failed_items"] += sum(1 for job in jobs if job.result.error is not None)
        return [job.result for job in jobs]

    def _run_group(self, group: list[_Job], calls: _Calls) -> None:
        import torch

        try:
            self._decode_group(group, calls)
            return
        except self._oom_errors() as exc:
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            logger.warning("DIA batch of %d ran out of GPU memory: %s", len(group), str(exc).splitlines()[0][:200])
            failure = exc
        # Requests that finished keep their audio. Audio already streamed cannot be taken back: those requests
        # fail, as does a request alone. The rest retry in halves.
        retry = []
        for job in group:
            if job.finished:
                continue
            if job.emitted_frames or len(group) == 1:
                job.result.error = GpuOutOfMemory("The GPU ran out of memory for this job.")
                job.result.error.__cause__ = failure
                calls.final(job)
            else:
                retry.append(job)
        if retry:
            self.counters["oom_shrinks"] += 1
            half = (len(retry) + 1) // 2
            for part in (retry[:half], retry[half:]):
                if part:
                    self._run_group(part, calls)

    def _oom_errors(self) -> tuple[type[BaseException], ...]:
        """The exception types that mean "out of GPU memory" (a test double may widen this)."""
        import torch

        return (torch.cuda.OutOfMemoryError,)

    def _decode_group(self, group: list[_Job], calls: _Calls) -> None:
        from .dia_decode import DecodeCancelled

        settings = self.stream

        def emit(job: _Job, frames: np.ndarray, end: int) -> None:
            start = job.emitted_frames
            piece = PcmChunk(
                samples=self._decode_window(frames, start, end), sample_rate=SAMPLE_RATE, continues=start > 0
            )
            job.emitted_frames = end
            job.result.pieces.append(piece)
            calls.piece(job, piece)

        def on_frames(i: int, frames: np.ndarray, finished: bool) -> None:
            job = group[i]
            available = frames.shape[0]
            if settings.enabled and not calls.cancelled(job):
                while job.emitted_frames < available:
                    size = settings.first_frames if job.emitted_frames == 0 else settings.frames
                    end = min(job.emitted_frames + size, available)
                    if not finished and (end - job.emitted_frames < size or end + settings.context_frames > available):
                        break  # wait for a whole piece and its right-hand context
                    emit(job, frames, end)
            if finished:
                if not settings.enabled and available and not calls.cancelled(job):
                    emit(job, frames, available)
                job.result.codes = frames
                job.finished = True
                calls.final(job)

        self.counters["batches"] += 1
        try:
            outputs = self._loop.decode(
                [job.item for job in group],
                on_frames=on_frames,
                should_stop=lambda: all(calls.cancelled(job) for job in group),
            )
        except DecodeCancelled:
            for job in group:
                if not job.finished:
                    job.result.error = EngineError("abandoned by the caller")
                    calls.final(job)
            return
        for job, out in zip(group, outputs, strict=True):
            job.result.steps = out.steps
            self.counters["steps"] += out.steps

    def decode_codes(self, codes: np.ndarray) -> np.ndarray:
        """The whole-utterance codec decode of undelayed codes (frames x codebooks), as mono float32 in [-1, 1]."""
        self.load()
        if codes.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        return self._on_gpu(lambda: self._decode_window(codes, 0, codes.shape[0]))

    def _decode_window(self, frames: np.ndarray, start: int, end: int) -> np.ndarray:
        """Audio of frames [start, end), decoded with up to `context_frames` neighbours on each side and cut."""
        import torch

        ctx = self.stream.context_frames
        lo, hi = max(0, start - ctx), min(frames.shape[0], end + ctx)
        codes = torch.as_tensor(frames[lo:hi].T[None].copy(), dtype=torch.long, device=self.device)
        with torch.inference_mode():
            audio = self._codec.decode(audio_codes=codes).audio_values
        audio = audio.reshape(-1)[(start - lo) * HOP : (end - lo) * HOP]
        return np.clip(audio.detach().float().cpu().numpy(), -1.0, 1.0)

    # -- preparing one request -----------------------------------------------------------------------------
    def _prepare(self, request: SynthesisRequest) -> DecodeItem:
        text = request.text.strip()
        if not text:
            raise EngineError("there is no text to speak")
        prompt = request.prompt
        full_text = f"{prompt.transcript.strip()} {text}" if prompt is not None else text
        inputs = self._processor(text=[full_text], padding=True, return_tensors="pt")
        text_ids = inputs["input_ids"][0]
        # Without a prompt the prefix is BOS (and BOS on each channel until its delay runs out), as the processor
        # makes it; with one, the prompt's frames (encoded once per voice).
        prefix = self._prompt_prefix(prompt) if prompt is not None else inputs["decoder_input_ids"][0].long()
        new_tokens = self.generation.new_tokens
        max_delay = max(self._model.config.delay_pattern)
        try:
            self.buckets.check(
                text=int(text_ids.shape[0]), prompt=int(prefix.shape[0]) - max_delay, new_tokens=new_tokens
            )
        except RequestTooLong as exc:
            if exc.dimension == "prompt":
                seconds = (self.buckets.prompt[-1] - 1) / TOKENS_PER_SECOND
                raise VoicePromptTooLong(
                    f"The voice sample is too long to clone from (at most {seconds:.1f} s): {exc}."
                ) from exc
            raise TextTooLong(f"This text is too long for one generation: {exc}.") from exc
        seed = request.seed if request.seed is not None else secrets.randbits(63)
        return DecodeItem(text_ids=text_ids, prefix=prefix, max_new_tokens=new_tokens, seed=seed)

    def _prompt_prefix(self, prompt: VoicePrompt):
        """The prompt's frames through the codec with the delay pattern applied (cached: one voice, many jobs)."""
        audio = np.asarray(prompt.audio)
        if audio.ndim != 1 or audio.size < HOP or not np.issubdtype(audio.dtype, np.floating):
            raise InvalidVoicePrompt("The voice prompt must be mono floating-point audio of at least a few ms.")
        if not np.isfinite(audio).all():
            raise InvalidVoicePrompt("The voice prompt contains invalid samples (NaN or infinity).")
        audio = audio.astype(np.float32, copy=False)
        key = hashlib.sha1(audio.tobytes(), usedforsecurity=False).hexdigest()
        cached = self._prompt_cache.get(key)
        if cached is not None:
            self._prompt_cache.move_to_end(key)
            return cached
        try:
            inputs = self._processor(text=["x"], audio=[audio], padding=True, return_tensors="pt")
        except Exception as exc:  # the codec or feature extractor refused it
            raise InvalidVoicePrompt(f"The voice prompt could not be encoded: {exc}") from exc
        prefix = inputs["decoder_input_ids"][0].long().cpu()
        self._prompt_cache[key] = prefix
        while len(self._prompt_cache) > self._prompt_cache_size:
            self._prompt_cache.popitem(last=False)
        return prefix
