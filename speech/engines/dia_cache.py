"""The static KV cache of Dia's decode loop: buffers allocated once for the largest bucket, the views a bucket
decodes in (same storage, so a captured CUDA graph finds its inputs at the same addresses every time), and the
cache object Dia's decoder layers write into."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .dia_buckets import BucketKey, DiaBuckets

logger = logging.getLogger(__name__)


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


def buffers_allocate(
    *,
    model,
    buckets: DiaBuckets,
    rows: int,
    device,
    dtype,
    channels: int,
    vocab: int,
    bos: int,
    pad: int,
    max_delay: int,
) -> _Buffers:
    """The buffers for the largest bucket (`rows` decoder rows: twice the batch with classifier-free guidance)."""
    import torch

    b = buckets
    text, cache, steps = b.text[-1], b.prompt[-1] + b.new_tokens[-1], b.new_tokens[-1]
    dec = model.config.decoder_config
    enc_hidden = model.config.encoder_config.hidden_size
    kv_heads = dec.num_key_value_heads or dec.num_attention_heads
    zeros = {"device": device, "dtype": dtype}
    buffers = _Buffers(rows=rows, text=text, cache=cache, steps=steps)
    for _ in range(dec.num_hidden_layers):
        buffers.keys.append(torch.zeros(rows, kv_heads, cache, dec.head_dim, **zeros))
        buffers.values.append(torch.zeros(rows, kv_heads, cache, dec.head_dim, **zeros))
        buffers.cross_keys.append(torch.zeros(rows, dec.cross_num_key_value_heads, text, dec.cross_head_dim, **zeros))
        buffers.cross_values.append(torch.zeros(rows, dec.cross_num_key_value_heads, text, dec.cross_head_dim, **zeros))
    batch = b.batch[-1]
    long = {"device": device, "dtype": torch.long}
    buffers.tensors = {
        "enc": torch.zeros(rows, text, enc_hidden, **zeros),
        "enc_valid": torch.zeros(rows, text, device=device, dtype=torch.bool),
        "pad": torch.zeros(rows, **long),
        "tokens_in": torch.full((batch, 1, channels), bos, **long),
        "index": torch.zeros(1, **long),
        "step": torch.zeros(1, **long),
        "noise": torch.ones(batch, channels, vocab, device=device, dtype=torch.float32),
        "active": torch.zeros(batch, device=device, dtype=torch.bool),
        "delay_left": torch.zeros(batch, channels, device=device, dtype=torch.int32),
        "last_step": torch.full((batch,), -1, **long),
        "finished": torch.zeros(batch, channels, device=device, dtype=torch.bool),
        "forced": torch.full((batch, max(1, max_delay), channels), pad, **long),
        "tokens_out": torch.full((batch, steps, channels), pad, **long),
    }
    logger.info("Dia decode buffers: %.1f MB for %d rows", buffers.nbytes() / 1e6, rows)
    return buffers


def buffers_view(buf: _Buffers, key: BucketKey, rows: int) -> dict:
    """The buffers cut to a bucket (views: same storage, so captured graphs see the same addresses)."""
    batch = key.batch
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
