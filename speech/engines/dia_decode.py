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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .dia_buckets import BucketKey
from .dia_cache import _StepCache
from .dia_sampling import undelay
from .dia_step import DecodeStep

logger = logging.getLogger(__name__)


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


class DecodeLoop(DecodeStep):
    """Decodes batches of `DecodeItem`s on one model; compiled or eager. Not thread-safe: call from one thread."""

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
        return undelay(tokens, steps, eos_step, delay=self.delay, channels=self.channels)

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
