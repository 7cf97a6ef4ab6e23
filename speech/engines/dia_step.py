"""Dia's decode step over the static KV cache: one step eager, or compiled per shape bucket and (on CUDA)
captured as a CUDA graph; warm-up of the buckets; and the fall back to eager, with its reason, when compilation
fails. `DecodeLoop` (dia_decode) builds batches on top of it."""

from __future__ import annotations

import logging
import time

from .dia_buckets import BucketKey, DiaBuckets
from .dia_cache import _Buffers, _StepCache, buffers_allocate, buffers_view
from .dia_sampling import Sampling, select_tokens

logger = logging.getLogger(__name__)

# The per-step state a compiled step updates in place (snapshotted around a capture or a failed compile).
_STEP_STATE = ("tokens_in", "index", "step", "active", "delay_left", "finished", "tokens_out")


class CompileUnavailable(RuntimeError):
    """Compilation was requested but could not be done (or a test forced it to fail)."""


class DecodeStep:
    """The step of `DecodeLoop`, compiled or eager, over buffers for the largest bucket. Not thread-safe."""

    def __init__(
        self,
        model,
        *,
        buckets: DiaBuckets,
        sampling: Sampling,
        compiled: bool,
        cuda_graphs: bool,
        compile_backend: str = "inductor",
        compile_options: dict | None = None,
        sync_every: int = 8,
        fail_compile: bool = False,
        lazy_compile: bool = True,
    ) -> None:
        import torch

        self.torch = torch
        self.model = model
        self.decoder = model.model.decoder
        self.encoder = model.model.encoder
        self.buckets = buckets
        self.sampling = sampling
        self.device = next(model.parameters()).device
        # The activations' dtype: the first floating-point weight's (8-bit bitsandbytes weights are int8)
        self.dtype = next(p.dtype for p in model.parameters() if p.is_floating_point())
        config = model.config
        dec = config.decoder_config
        self.delay = [int(d) for d in config.delay_pattern]
        self.max_delay = max(self.delay)
        self.channels = dec.num_channels
        self.vocab = dec.vocab_size
        self.eos, self.pad, self.bos = dec.eos_token_id, dec.pad_token_id, dec.bos_token_id
        self.sync_every = max(1, int(sync_every))
        self.compiled = compiled
        self.cuda_graphs = cuda_graphs and compiled and self.device.type == "cuda"
        self.compile_backend = compile_backend
        self.compile_options = compile_options
        self.fail_compile = fail_compile
        # A bucket that warm-up did not reach: compiled when a batch first needs it (that batch, and the GPU, wait
        # for the compiler), or with lazy_compile=False decoded eagerly instead (slower, but no stall).
        self.lazy_compile = lazy_compile
        self.fallback_reason: str | None = None
        self.warmed: list[str] = []
        # Errors that mean "out of GPU memory": passed through to the caller, never taken for a compile failure.
        self.oom_types: tuple[type[BaseException], ...] = (torch.cuda.OutOfMemoryError,)
        self._graphs: dict = {}
        self._proven: set[BucketKey] = set()
        self._graph_pool = None
        self._compiled_step = None
        self._buffers: _Buffers | None = None
        allowed = torch.ones(self.channels, self.vocab, dtype=torch.bool)
        allowed[1:, self.eos :] = False
        allowed[0, self.eos + 1 :] = False
        self._allowed = allowed.to(self.device)
        self._delays = torch.tensor(self.delay, dtype=torch.int32, device=self.device)
        self._attn_bool = getattr(config, "_attn_implementation", "sdpa") == "sdpa"

    def set_sampling(self, sampling: Sampling) -> None:
        """New sampling settings: they are constants of the compiled steps, so those are compiled again."""
        if sampling == self.sampling:
            return
        self.sampling = sampling
        self._graphs.clear()
        self._proven.clear()
        self.warmed.clear()
        self._compiled_step = None
        self._buffers = None  # (the rows per request change with classifier-free guidance on or off)

    # -- describe ------------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return "compiled" if self.compiled else "eager"

    def cache_bytes(self) -> int:
        return self._buffers.nbytes() if self._buffers is not None else 0

    # -- buffers -------------------------------------------------------------------------------------------
    def _rows_for(self, batch: int) -> int:
        return 2 * batch if self.sampling.cfg else batch

    def allocate(self) -> int:
        """Allocate the buffers for the largest bucket now (else at the first batch); returns their bytes."""
        with self.torch.inference_mode():
            return self._ensure_buffers().nbytes()

    def _ensure_buffers(self) -> _Buffers:
        if self._buffers is not None:
            return self._buffers
        self._buffers = buffers_allocate(
            model=self.model,
            buckets=self.buckets,
            rows=self._rows_for(self.buckets.batch[-1]),
            device=self.device,
            dtype=self.dtype,
            channels=self.channels,
            vocab=self.vocab,
            bos=self.bos,
            pad=self.pad,
            max_delay=self.max_delay,
        )
        return self._buffers

    def _views(self, key: BucketKey) -> dict:
        """The buffers cut to a bucket (views: same storage, so captured graphs see the same addresses)."""
        return buffers_view(self._ensure_buffers(), key, self._rows_for(key.batch))

    # -- one step ------------------------------------------------------------------------------------------
    def _mask(self, allowed):
        """A boolean mask for sdpa, or the additive float mask eager attention expects."""
        if self._attn_bool:
            return allowed
        torch = self.torch
        return torch.where(allowed, 0.0, torch.finfo(self.dtype).min).to(self.dtype)

    def _advance(self, logits, v: dict) -> None:
        """Pick the step's tokens from `logits` and move every piece of per-request state one step on."""
        torch = self.torch
        step = v["step"]
        at_max = v["last_step"] == step
        noise = v["noise"] if self.sampling.do_sample else None
        tokens, active, delay_left = select_tokens(
            logits,
            noise,
            v["active"],
            v["delay_left"],
            at_max,
            sampling=self.sampling,
            allowed=self._allowed,
            eos=self.eos,
        )
        finished = v["finished"]
        tokens = torch.where(finished, self.pad, tokens)
        # The delay pattern's head: while a channel still lags behind the prefix, its token is given, not chosen.
        forced = v["forced"].index_select(1, step.clamp(max=max(0, self.max_delay - 1))).squeeze(1)
        tokens = torch.where((step < self.max_delay) & (forced != self.pad), forced, tokens)
        finished.copy_(finished | (tokens == self.eos))
        v["tokens_out"].index_copy_(1, step, tokens[:, None, :])
        v["tokens_in"].copy_(tokens[:, None, :])
        v["active"].copy_(active)
        v["delay_left"].copy_(delay_left)
        step.add_(1)

    def _logits(self, hidden, rows: int):
        out = self.model.logits_dense(hidden)
        return out.view(rows, self.channels, self.vocab).float()

    def _step_impl(self, v: dict) -> None:
        """One decode step: the previous token in, the next token chosen, all state updated in place."""
        torch = self.torch
        tokens = v["tokens_in"]
        rows = v["pad"].shape[0]
        if self.sampling.cfg:
            tokens = torch.cat([tokens, tokens], dim=0)
        index, pad = v["index"], v["pad"]
        positions = (index - pad).clamp(min=0)[:, None]
        slots = torch.arange(v["keys"][0].shape[2], device=index.device)
        self_mask = self._mask(((slots[None, :] >= pad[:, None]) & (slots[None, :] <= index))[:, None, None, :])
        cross_mask = self._mask(v["enc_valid"][:, None, None, :])
        cache = _StepCache(v["keys"], v["values"], v["cross_keys"], v["cross_values"], index)
        hidden = self.decoder(
            input_ids=tokens,
            position_ids=positions,
            attention_mask=self_mask,
            encoder_hidden_states=v["enc"],
            encoder_attention_mask=cross_mask,
            cache=cache,
        ).last_hidden_state
        self._advance(self._logits(hidden, rows), v)
        index.add_(1)

    def _run_step(self, key: BucketKey, v: dict) -> None:
        if not self.compiled:
            self._step_impl(v)
            return
        if key in self._proven:
            self._compiled_run(key, v)
            return
        if not self.lazy_compile:
            self._step_impl(v)
            return
        # The first compiled step of a bucket compiles (and captures) it. Should that fail, the state is put back
        # as it was and the step runs eagerly, as does everything after it: the batch goes on without a seam.
        saved = {name: v[name].clone() for name in _STEP_STATE}
        try:
            self._compiled_run(key, v)
        except Exception as exc:
            for name in _STEP_STATE:
                v[name].copy_(saved[name])
            if isinstance(exc, self.oom_types):
                raise  # out of memory is not a compiler problem: the engine shrinks the batch
            self._fall_back(f"{type(exc).__name__}: {exc}")
            self._step_impl(v)
            return
        self._proven.add(key)

    def _fall_back(self, reason: str) -> None:
        reason = reason.strip().splitlines()[0][:500] if reason.strip() else "unknown"
        logger.error("Dia compiled decoding failed, serving eagerly from now on: %s", reason)
        self.compiled = False
        self.cuda_graphs = False
        self.fallback_reason = reason
        self._graphs.clear()
        self._proven.clear()
        self._compiled_step = None

    def _compile(self):
        if self._compiled_step is None:
            if self.fail_compile:
                raise CompileUnavailable("compilation forced to fail (simulate_compile_failure)")
            torch = self.torch
            # One compiled function, specialised per bucket shape: allow as many recompiles as there are buckets.
            limit = 2 * len(self.buckets.shapes()) + 8
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, limit)
            torch._dynamo.config.accumulated_recompile_limit = max(
                torch._dynamo.config.accumulated_recompile_limit, 4 * limit
            )
            self._compiled_step = torch.compile(
                self._step_impl,
                backend=self.compile_backend,
                fullgraph=True,
                dynamic=False,
                options=self.compile_options,
            )
        return self._compiled_step

    def _compiled_run(self, key: BucketKey, v: dict) -> None:
        step = self._compile()
        if not self.cuda_graphs:
            step(v)
            return
        graph = self._graphs.get(key)
        if graph is None:
            graph = self._capture(key, v, step)
        graph.replay()

    def _capture(self, key: BucketKey, v: dict, step):
        """Record the compiled step for this bucket as a CUDA graph (its inputs are the static buffers).

        The warm-up runs before capture are real steps on the current state, so `_capture` must only be called
        where a step is due anyway; it snapshots and restores the per-step state around them so that exactly one
        step's effect remains (the cache writes are idempotent: the same token at the same index).
        """
        torch = self.torch
        state = {name: v[name].clone() for name in _STEP_STATE}
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):  # Triton autotuning and lazy initialisation happen outside the capture
                for name in _STEP_STATE:
                    v[name].copy_(state[name])
                step(v)
        torch.cuda.current_stream().wait_stream(stream)
        for name in _STEP_STATE:
            v[name].copy_(state[name])
        if self._graph_pool is None:
            self._graph_pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        # thread_local: other threads of the worker (a speaker encoder, say) may use CUDA while we capture.
        with torch.cuda.graph(graph, pool=self._graph_pool, capture_error_mode="thread_local"):
            step(v)
        # Capturing records without running: the step is still due; replay() runs it.
        for name in _STEP_STATE:
            v[name].copy_(state[name])
        self._graphs[key] = graph
        return graph

    # -- warm-up -------------------------------------------------------------------------------------------
    def warm_up(self, budget_s: float) -> dict:
        """Compile (and capture) the decode step of each bucket, likeliest first, until `budget_s` runs out."""
        started = time.perf_counter()
        report: dict = {"warmed": [], "skipped": [], "seconds": 0.0}
        if not self.compiled:
            report["skipped"] = [k.label() for k in self.buckets.shapes()]
            return report
        keys = self.buckets.shapes()
        for n, key in enumerate(keys):
            if time.perf_counter() - started >= budget_s:
                report["skipped"].extend(k.label() for k in keys[n:])
                break
            t0 = time.perf_counter()
            try:
                with self.torch.inference_mode():
                    v = self._views(key)
                    self._dummy_state(v)
                    self._compiled_run(key, v)
                if self.device.type == "cuda":
                    self.torch.cuda.synchronize()
            except self.oom_types as exc:
                # A bucket too big for this GPU: skip it (a batch that needs it will shrink on OOM) and go on.
                logger.warning("Dia warm-up: bucket %s does not fit in GPU memory: %s", key.label(), exc)
                report["skipped"].append(key.label())
                if self.device.type == "cuda":
                    self.torch.cuda.empty_cache()
                continue
            except Exception as exc:
                self._fall_back(f"{type(exc).__name__}: {exc}")
                report["skipped"].extend(k.label() for k in keys[n:])
                break
            self._proven.add(key)
            self.warmed.append(key.label())
            report["warmed"].append({"bucket": key.label(), "seconds": round(time.perf_counter() - t0, 2)})
        report["seconds"] = round(time.perf_counter() - started, 2)
        return report

    def _dummy_state(self, v: dict) -> None:
        """Harmless inputs for a warm-up step: every row sees one valid key and a finite cache."""
        v["pad"].zero_()
        v["enc_valid"].zero_()
        v["enc_valid"][:, 0] = True
        v["tokens_in"].fill_(self.bos)
        v["index"].zero_()
        v["step"].zero_()
        v["noise"].fill_(1.0)
        v["active"].zero_()
        v["delay_left"].copy_(self._delays.expand_as(v["delay_left"]))
        v["last_step"].fill_(-1)
        v["finished"].zero_()
        v["forced"].fill_(self.pad)
