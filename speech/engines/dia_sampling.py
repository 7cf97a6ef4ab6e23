"""Token selection for Dia's decode loop: transformers' Dia logits processors, vectorised over a batch, with the
EOS delay pattern (once channel 0 ends, channel c ends `delay[c]` steps later), and the undelaying of decoded
tokens into codec frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def undelay(tokens: np.ndarray, steps: int, eos_step: int | None, *, delay: list[int], channels: int) -> np.ndarray:
    """Undelayed codes of the frames complete after `steps` steps: frame k, channel c = step k + delay[c]."""
    complete = max(0, steps - max(delay))
    if eos_step is not None:
        complete = min(complete, eos_step)
    out = np.empty((complete, channels), dtype=np.int64)
    for c, d in enumerate(delay):
        out[:, c] = tokens[d : d + complete, c]
    return out
