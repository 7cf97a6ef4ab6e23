"""Dia's decoding loop for serving: a static KV cache, one compiled (and on CUDA graph-captured) decode step per
shape bucket, several requests decoded together, and frames handed out as they complete.

Why not `model.generate`: it rebuilds its logits processors, masks and a dynamic cache on every call, keeps the
sampling state in one global RNG (so a request's audio would depend on its batch neighbours), and cannot hand out
frames mid-generation. This loop calls the same encoder, decoder and logits head, and applies the same processing
as transformers' Dia generation, in the same order (checked token for token against `generate` in the tests):

    CFG (cond + (cond - uncond) * scale, keeping the cond logits inside the guided top-k) -> temperature (clamped to
    >= 1 as transformers does) -> EOS channel filter -> top-k -> top-p (sampling only) -> EOS delay pattern ->
    sample (argmax of probs / Exp(1) noise, which is how `torch.multinomial` draws one sample) or argmax.

Layout of a batch. Row i < B is request i conditioned on its text, row B + i the same request on empty text
(classifier-free guidance doubles the rows). Decoder prefixes (BOS + audio-prompt frames, delayed) are left-padded
to the longest in the batch, so every row writes step s at the same cache index; each row's rotary positions
start at its own first real token and the padding is masked, so a request's numbers do not depend on how much
padding it got. Sampling noise comes from a torch.Generator per request seeded with that request's seed.

Shapes: the decode step is compiled for a (batch rows, text length, cache length) bucket. The KV cache, encoder
output and all per-step state live in buffers allocated once for the largest bucket; smaller buckets are views
of them, so a captured CUDA graph finds its inputs at the same addresses every time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------------------
# Buckets
# ----------------------------------------------------------------------------------------------------------
class RequestTooLong(ValueError):
    """A request needs more than the largest bucket holds; `dimension` says which ("text", "prompt", ...)."""

    def __init__(self, message: str, dimension: str) -> None:
        super().__init__(message)
        self.dimension = dimension


@dataclass(frozen=True)
class DiaBuckets:
    """The shapes decode steps are compiled for; a request goes into the smallest bucket that holds it.

    - `batch`: requests decoded together (rows are twice this with classifier-free guidance).
    - `text`: encoder tokens, i.e. the voice prompt's transcript plus the text, in bytes (Dia's encoder reads
      bytes; its limit is 1024).
    - `prompt`: decoder prefix, i.e. BOS plus the audio prompt's frames (86 per second; 1 without a prompt).
    - `new_tokens`: decode steps (Dia's codebook delay adds 15 steps and EOS one more to the audio frames).

    A compiled step is keyed by (batch, text, prompt + new_tokens): the prefix is encoded in one eager forward, so
    only the cache length it leaves matters to the step. Fewer buckets compile faster (each is a compile of its own,
    ~40 s cold for Dia-1.6B on an H100 by the spike's warm-up, far less from the on-disk cache); tighter ones waste
    less attention on padding. The defaults make 16 shapes, the 8 with text up to 512 bytes (a 20 s segment plus a
    10 s prompt's transcript) first.
    """

    batch: tuple[int, ...] = (1, 2, 4, 8)
    text: tuple[int, ...] = (512, 1024)
    prompt: tuple[int, ...] = (1, 1024)
    new_tokens: tuple[int, ...] = (2064,)

    def __post_init__(self) -> None:
        for name in ("batch", "text", "prompt", "new_tokens"):
            values = tuple(sorted({int(v) for v in getattr(self, name)}))
            if not values or values[0] < 1:
                raise ValueError(f"bucket sizes for {name} must be positive integers")
            object.__setattr__(self, name, values)

    @classmethod
    def coerce(cls, value: DiaBuckets | dict | None, *, max_batch: int, max_new_tokens: int) -> DiaBuckets:
        """Buckets from settings; the defaults follow `max_batch` and the engine's `max_new_tokens`."""
        if isinstance(value, cls):
            return value
        given = dict(value or {})
        given.setdefault("batch", (*(b for b in (1, 2, 4, 8, 16, 32, 64) if b < max_batch), max_batch))
        given.setdefault("new_tokens", (max_new_tokens,))
        return cls(**{k: tuple(v) for k, v in given.items()})

    @staticmethod
    def _fit(sizes: tuple[int, ...], need: int, dimension: str, what: str) -> int:
        for size in sizes:
            if size >= need:
                return size
        raise RequestTooLong(f"{what} needs {need}, more than the largest bucket ({sizes[-1]})", dimension)

    def pick(self, *, batch: int, text: int, prompt: int, new_tokens: int) -> BucketKey:
        """The smallest bucket for a batch whose longest text, prompt and step budget are given."""
        return BucketKey(
            batch=self._fit(self.batch, batch, "batch", "the batch"),
            text=self._fit(self.text, text, "text", "the text with the voice prompt's transcript"),
            cache=self._fit(self.prompt, prompt, "prompt", "the voice prompt (frames + BOS)")
            + self._fit(self.new_tokens, new_tokens, "new_tokens", "the generation length"),
        )

    def check(self, *, text: int, prompt: int, new_tokens: int) -> None:
        """Raise RequestTooLong if one request alone fits no bucket."""
        self.pick(batch=1, text=text, prompt=prompt, new_tokens=new_tokens)

    def shapes(self) -> list[BucketKey]:
        """Every distinct compiled shape, the likeliest first: small batches, short text, short caches."""
        caches = sorted({p + n for p in self.prompt for n in self.new_tokens})
        return [BucketKey(batch=b, text=t, cache=c) for t in self.text for c in caches for b in self.batch]

    def as_dict(self) -> dict:
        return {
            "batch": list(self.batch),
            "text": list(self.text),
            "prompt": list(self.prompt),
            "new_tokens": list(self.new_tokens),
        }


@dataclass(frozen=True, order=True)
class BucketKey:
    batch: int
    text: int
    cache: int

    def label(self) -> str:
        return f"b{self.batch}/t{self.text}/c{self.cache}"


# ----------------------------------------------------------------------------------------------------------
# Requests in and frames out
# ----------------------------------------------------------------------------------------------------------
@dataclass
class DecodeItem:
    """One request ready to decode: what the Dia processor makes of it for a batch of one."""

    text_ids: object  # torch.LongTensor (T,): bytes of transcript + text
    prefix: object  # torch.LongTensor (P + max_delay, C): BOS + prompt frames with the delay pattern applied
    max_new_tokens: int
    seed: int

    @property
    def prompt_len(self) -> int:
        return int(self.prefix.shape[0])  # minus max_delay: see `DecodeLoop._prefix_len`


@dataclass
class ItemFrames:
    """What a request generated: `tokens` as decoded (delayed, steps x channels) and `frames` (undelayed codes)."""

    tokens: np.ndarray
    frames: np.ndarray
    steps: int
    eos: bool


# Called at every sync point with the request's index, its complete frames so far and whether it has finished.
FramesCallback = Callable[[int, np.ndarray, bool], None]


class DecodeCancelled(Exception):
    """The caller asked the loop to stop (every request of the batch was abandoned)."""


# ----------------------------------------------------------------------------------------------------------
# The cache the decoder layers see
# ----------------------------------------------------------------------------------------------------------
class _KV:
    def __init__(self, keys, values) -> None:
        self.keys, self.values = keys, values


class _CrossCache:
    def __init__(self, layers: list[_KV]) -> None:
        self.layers = layers


class _StepCache:
    """What Dia's decoder layers ask of an EncoderDecoderCache, over our preallocated buffers.

    Self-attention writes the new keys/values at `index` (a tensor, so a compiled graph need not change as the
    position moves) and attends to the whole bucket-length cache under our mask. Cross-attention keys/values are
    computed once per batch (`is_updated` is always true here).
    """

    def __init__(self, keys, values, cross_keys, cross_values, index) -> None:
        self.keys, self.values, self.index = keys, values, index
        # (no zip(strict=...) here: this runs inside the compiled step and should trace simply)
        self.cross_attention_cache = _CrossCache([_KV(cross_keys[i], cross_values[i]) for i in range(len(keys))])
        self.is_updated = dict.fromkeys(range(len(keys)), True)

    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        keys, values = self.keys[layer_idx], self.values[layer_idx]
        keys.index_copy_(2, self.index, key_states)
        values.index_copy_(2, self.index, value_states)
        return keys, values

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return 0  # positions are always passed explicitly


# ----------------------------------------------------------------------------------------------------------
# Token selection (transformers' Dia logits processors, vectorised)
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sampling:
    guidance_scale: float | None = 3.0
    temperature: float = 1.8
    top_p: float | None = 0.9
    top_k: int | None = 45
    do_sample: bool = True

    @property
    def cfg(self) -> bool:
        return self.guidance_scale is not None and self.guidance_scale != 1

    @property
    def effective_temperature(self) -> float:
        # transformers clamps Dia's temperature to >= 1 (with a warning)
        return max(1.0, float(self.temperature)) if self.temperature is not None else 1.0


def select_tokens(logits, noise, active, delay_left, at_max, *, sampling: Sampling, allowed, eos: int):
    """The next token of every (request, channel), and the EOS delay state after it.

    logits: (rows, C, V) float32, rows = 2B with CFG; noise: (B, C, V) Exp(1) draws or None (greedy);
    active: (B,) bool, an EOS has started; delay_left: (B, C) int, steps until a channel must end;
    at_max: (B,) bool, this step is the last one at which channel 0 may end within the step budget.
    """
    import torch

    neg_inf = float("-inf")
    if sampling.cfg:
        batch = logits.shape[0] // 2
        cond, uncond = logits[:batch], logits[batch:]
        scores = cond + (cond - uncond) * sampling.guidance_scale
        if sampling.top_k is not None:
            _, top = torch.topk(scores, k=sampling.top_k, dim=-1)
            outside = torch.ones_like(scores, dtype=torch.bool).scatter(-1, top, False)
            scores = cond.masked_fill(outside, neg_inf)
    else:
        scores = logits
    temperature = sampling.effective_temperature
    if temperature != 1.0:
        scores = scores / temperature
    # EOS channel filter: only channel 0 may end; no channel may produce PAD/BOS; EOS is taken exactly when it
    # is the top logit, and never otherwise.
    scores = scores.masked_fill(~allowed, neg_inf)
    vocab = torch.arange(scores.shape[-1], device=scores.device)
    eos_on_top = (torch.argmax(scores, dim=-1) == eos)[..., None]
    scores = scores.masked_fill(eos_on_top & (vocab < eos), neg_inf)
    scores = scores.masked_fill(~eos_on_top & (vocab == eos), neg_inf)
    if sampling.do_sample:
        if sampling.top_k:
            k = min(int(sampling.top_k), scores.shape[-1])
            kth = torch.topk(scores, k)[0][..., -1, None]
            scores = scores.masked_fill(scores < kth, neg_inf)
        if sampling.top_p is not None and sampling.top_p < 1.0:
            sorted_logits, sorted_indices = torch.sort(scores, descending=False)
            cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
            remove = cumulative <= (1 - sampling.top_p)
            remove[..., -1:] = False
            scores = scores.masked_fill(remove.scatter(-1, sorted_indices, remove), neg_inf)
    # EOS delay pattern: once channel 0 ends (or the budget runs out), channel c must end `delay[c]` steps later.
    active = active | (torch.argmax(scores[:, 0], dim=-1) == eos) | at_max
    forced = (active[:, None] & (delay_left == 0))[..., None]
    only_eos = torch.where(vocab == eos, 0.0, neg_inf).to(scores.dtype)
    scores = torch.where(forced, only_eos, scores)
    delay_left = delay_left - active[:, None].to(delay_left.dtype)
    if sampling.do_sample:
        probs = torch.softmax(scores, dim=-1)
        tokens = torch.argmax(probs / noise, dim=-1)
    else:
        tokens = torch.argmax(scores, dim=-1)
    return tokens, active, delay_left


# ----------------------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------------------
@dataclass
class _Buffers:
    """Everything a decode step reads or writes, allocated once for the largest bucket."""

    rows: int
    text: int
    cache: int
    steps: int
    keys: list = field(default_factory=list)
    values: list = field(default_factory=list)
    cross_keys: list = field(default_factory=list)
    cross_values: list = field(default_factory=list)
    tensors: dict = field(default_factory=dict)

    def nbytes(self) -> int:
        total = sum(t.numel() * t.element_size() for t in self.keys + self.values + self.cross_keys)
        total += sum(t.numel() * t.element_size() for t in self.cross_values)
        return total + sum(t.numel() * t.element_size() for t in self.tensors.values())


class CompileUnavailable(RuntimeError):
    """Compilation was requested but could not be done (or a test forced it to fail)."""


class DecodeLoop:
    """Decodes batches of `DecodeItem`s on one model; compiled or eager. Not thread-safe: call from one thread."""

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
        torch = self.torch
        b = self.buckets
        rows = self._rows_for(b.batch[-1])
        text, cache, steps = b.text[-1], b.prompt[-1] + b.new_tokens[-1], b.new_tokens[-1]
        dec = self.model.config.decoder_config
        enc_hidden = self.model.config.encoder_config.hidden_size
        kv_heads = dec.num_key_value_heads or dec.num_attention_heads
        zeros = {"device": self.device, "dtype": self.dtype}
        buffers = _Buffers(rows=rows, text=text, cache=cache, steps=steps)
        for _ in range(dec.num_hidden_layers):
            buffers.keys.append(torch.zeros(rows, kv_heads, cache, dec.head_dim, **zeros))
            buffers.values.append(torch.zeros(rows, kv_heads, cache, dec.head_dim, **zeros))
            buffers.cross_keys.append(
                torch.zeros(rows, dec.cross_num_key_value_heads, text, dec.cross_head_dim, **zeros)
            )
            buffers.cross_values.append(
                torch.zeros(rows, dec.cross_num_key_value_heads, text, dec.cross_head_dim, **zeros)
            )
        batch = b.batch[-1]
        long = {"device": self.device, "dtype": torch.long}
        buffers.tensors = {
            "enc": torch.zeros(rows, text, enc_hidden, **zeros),
            "enc_valid": torch.zeros(rows, text, device=self.device, dtype=torch.bool),
            "pad": torch.zeros(rows, **long),
            "tokens_in": torch.full((batch, 1, self.channels), self.bos, **long),
            "index": torch.zeros(1, **long),
            "step": torch.zeros(1, **long),
            "noise": torch.ones(batch, self.channels, self.vocab, device=self.device, dtype=torch.float32),
            "active": torch.zeros(batch, device=self.device, dtype=torch.bool),
            "delay_left": torch.zeros(batch, self.channels, device=self.device, dtype=torch.int32),
            "last_step": torch.full((batch,), -1, **long),
            "finished": torch.zeros(batch, self.channels, device=self.device, dtype=torch.bool),
            "forced": torch.full((batch, max(1, self.max_delay), self.channels), self.pad, **long),
            "tokens_out": torch.full((batch, steps, self.channels), self.pad, **long),
        }
        self._buffers = buffers
        logger.info("Dia decode buffers: %.1f MB for %d rows", buffers.nbytes() / 1e6, rows)
        return buffers

    def _views(self, key: BucketKey) -> dict:
        """The buffers cut to a bucket (views: same storage, so captured graphs see the same addresses)."""
        buf = self._ensure_buffers()
        rows, batch = self._rows_for(key.batch), key.batch
        t = buf.tensors
        return {
            "keys": [k[:rows, :, : key.cache] for k in buf.keys],
            "values": [v[:rows, :, : key.cache] for v in buf.values],
            "cross_keys": [k[:rows, :, : key.text] for k in buf.cross_keys],
            "cross_values": [v[:rows, :, : key.text] for v in buf.cross_values],
            "enc": t["enc"][:rows, : key.text],
            "enc_valid": t["enc_valid"][:rows, : key.text],
            "pad": t["pad"][:rows],
            "tokens_in": t["tokens_in"][:batch],
            "index": t["index"],
            "step": t["step"],
            "noise": t["noise"][:batch],
            "active": t["active"][:batch],
            "delay_left": t["delay_left"][:batch],
            "last_step": t["last_step"][:batch],
            "finished": t["finished"][:batch],
            "forced": t["forced"][:batch],
            "tokens_out": t["tokens_out"][:batch],
        }

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

    # -- a batch -------------------------------------------------------------------------------------------
    def _prefix_len(self, item: DecodeItem) -> int:
        return int(item.prefix.shape[0]) - self.max_delay

    def bucket_for(self, items: Sequence[DecodeItem]) -> BucketKey:
        return self.buckets.pick(
            batch=len(items),
            text=max(int(i.text_ids.shape[0]) for i in items),
            prompt=max(self._prefix_len(i) for i in items),
            new_tokens=max(i.max_new_tokens for i in items),
        )

    def decode(
        self,
        items: Sequence[DecodeItem],
        on_frames: FramesCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[ItemFrames]:
        """Decode `items` together (at most the largest batch bucket); frames go to `on_frames` as they complete."""
        with self.torch.inference_mode():
            return self._decode(items, on_frames, should_stop)

    def _decode(self, items, on_frames, should_stop) -> list[ItemFrames]:
        torch = self.torch
        key = self.bucket_for(items)
        v = self._views(key)
        batch, real = key.batch, len(items)
        rows = self._rows_for(batch)
        prefix_lens = [self._prefix_len(i) for i in items]
        longest_prefix = max(prefix_lens)
        text_len = max(int(i.text_ids.shape[0]) for i in items)
        budgets = [int(i.max_new_tokens) for i in items]
        total_steps = max(budgets)

        self._load_batch(items, v, key, prefix_lens, longest_prefix, text_len)
        generators = [torch.Generator(device=self.device).manual_seed(int(i.seed)) for i in items]
        # The prefix, in one eager forward: it fills the cache and gives step 0's logits.
        self._draw_noise(v, generators, real)
        self._prefill(items, v, rows, longest_prefix)
        v["index"].fill_(longest_prefix)

        host = np.full((real, total_steps, self.channels), self.pad, dtype=np.int64)
        done = [False] * real
        done_steps = [0] * real
        eos_step: list[int | None] = [None] * real
        synced = 0
        step = 1
        while True:
            if step % self.sync_every == 0 or step >= total_steps:
                fresh = v["tokens_out"][:real, synced:step].cpu().numpy()
                host[:, synced:step] = fresh
                for i in range(real):
                    if done[i]:
                        continue
                    upto = min(step, budgets[i])
                    if eos_step[i] is None:
                        hits = np.nonzero(host[i, synced:upto, 0] == self.eos)[0]
                        if hits.size:
                            eos_step[i] = synced + int(hits[0])
                    if eos_step[i] is not None:
                        # the last channel ends `max_delay` steps after channel 0; steps after that are padding
                        upto = min(upto, eos_step[i] + self.max_delay + 1)
                    if upto >= budgets[i] or (eos_step[i] is not None and upto == eos_step[i] + self.max_delay + 1):
                        done[i] = True
                        done_steps[i] = upto
                    if on_frames is not None:
                        on_frames(i, self._frames(host[i], upto, eos_step[i]), done[i])
                synced = step
                if all(done):
                    break
                if should_stop is not None and should_stop():
                    raise DecodeCancelled()
            self._draw_noise(v, generators, real)
            self._run_step(key, v)
            step += 1

        results = []
        for i in range(real):
            tokens = host[i, : done_steps[i]]
            results.append(
                ItemFrames(
                    tokens=tokens,
                    frames=self._frames(host[i], done_steps[i], eos_step[i]),
                    steps=done_steps[i],
                    eos=eos_step[i] is not None,
                )
            )
        return results

    def _frames(self, tokens: np.ndarray, steps: int, eos_step: int | None) -> np.ndarray:
        """Undelayed codes of the frames complete after `steps` steps: frame k, channel c = step k + delay[c]."""
        complete = max(0, steps - self.max_delay)
        if eos_step is not None:
            complete = min(complete, eos_step)
        out = np.empty((complete, self.channels), dtype=np.int64)
        for c, d in enumerate(self.delay):
            out[:, c] = tokens[d : d + complete, c]
        return out

    def _draw_noise(self, v: dict, generators, real: int) -> None:
        if not self.sampling.do_sample:
            return
        noise = v["noise"]
        for i in range(real):
            # One Exp(1) draw per (channel, token) per step from the request's own generator: the same draws
            # `torch.multinomial` makes for a batch of one, whatever else is in the batch.
            noise[i].exponential_(generator=generators[i])

    def _load_batch(self, items, v, key: BucketKey, prefix_lens, longest_prefix, text_len) -> None:
        """Encode the texts, fill the cross-attention cache and set every per-request state for step 0."""
        torch = self.torch
        batch, real = key.batch, len(items)
        rows = self._rows_for(batch)
        dev = self.device
        # Encoder input: right-padded text; the unconditional rows get zeros with the same mask (as transformers).
        ids = torch.zeros(batch, text_len, dtype=torch.long, device=dev)
        mask = torch.zeros(batch, text_len, dtype=torch.long, device=dev)
        for i, item in enumerate(items):
            n = int(item.text_ids.shape[0])
            ids[i, :n] = item.text_ids.to(dev)
            mask[i, :n] = 1
        mask[real:, 0] = 1  # filler rows: one valid position keeps their attention finite
        if self.sampling.cfg:
            ids = torch.cat([ids, torch.zeros_like(ids)])
            mask = torch.cat([mask, mask])
        enc = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        v["enc"].zero_()
        v["enc"][:, :text_len] = enc
        v["enc_valid"].zero_()
        v["enc_valid"][:, :text_len] = mask.bool()
        for layer, k_buf, v_buf in zip(self.decoder.layers, v["cross_keys"], v["cross_values"], strict=True):
            attn = layer.cross_attention
            shape = (rows, key.text, -1, attn.head_dim)
            k_buf.copy_(attn.k_proj(v["enc"]).view(shape).transpose(1, 2))
            v_buf.copy_(attn.v_proj(v["enc"]).view(shape).transpose(1, 2))
        pads = [longest_prefix - p for p in prefix_lens] + [0] * (batch - real)
        pad = torch.tensor(pads, dtype=torch.long, device=dev)
        v["pad"].copy_(torch.cat([pad, pad]) if self.sampling.cfg else pad)
        v["tokens_in"].fill_(self.bos)
        v["step"].zero_()
        v["noise"].fill_(1.0)
        v["active"].zero_()
        v["delay_left"].copy_(self._delays.expand_as(v["delay_left"]))
        v["last_step"].fill_(-1)
        v["finished"].zero_()
        v["finished"][real:] = True
        v["forced"].fill_(self.pad)
        v["tokens_out"].fill_(self.pad)
        for i, item in enumerate(items):
            v["last_step"][i] = int(item.max_new_tokens) - self.max_delay - 1
            head = item.prefix[prefix_lens[i] : prefix_lens[i] + self.max_delay].to(dev)
            v["forced"][i, : head.shape[0]] = head

    def _prefill(self, items, v: dict, rows: int, longest_prefix: int) -> None:
        """The prefixes through the decoder in one forward (left-padded); step 0 is chosen from its last position."""
        torch = self.torch
        dev = self.device
        prefix = torch.full((rows, longest_prefix, self.channels), self.bos, dtype=torch.long, device=dev)
        batch = v["tokens_in"].shape[0]
        pad = v["pad"]
        for i, item in enumerate(items):
            p = self._prefix_len(item)
            prefix[i, longest_prefix - p :] = item.prefix[:p].to(dev)
        if self.sampling.cfg:
            prefix[batch:] = prefix[:batch]
        index = torch.arange(longest_prefix, device=dev)
        positions = (index[None, :] - pad[:, None]).clamp(min=0)
        slots = torch.arange(v["keys"][0].shape[2], device=dev)
        query = index[None, :, None]
        key = slots[None, None, :]
        valid = (key <= query) & ((key >= pad[:, None, None]) | (key == query))
        cache = _StepCache(v["keys"], v["values"], v["cross_keys"], v["cross_values"], index)
        hidden = self.decoder(
            input_ids=prefix,
            position_ids=positions,
            attention_mask=self._mask(valid[:, None]),
            encoder_hidden_states=v["enc"],
            encoder_attention_mask=self._mask(v["enc_valid"][:, None, None, :]),
            cache=cache,
        ).last_hidden_state
        self._advance(self._logits(hidden[:, -1:], rows), v)


_STEP_STATE = ("tokens_in", "index", "step", "active", "delay_left", "finished", "tokens_out")
