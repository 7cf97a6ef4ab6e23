"""Requests into `DecodeItem`s for `DiaEngine`: the text's bytes (after the voice prompt's transcript), the voice
prompt's frames through the codec (cached per voice), and the bucket check that refuses what fits no bucket."""

from __future__ import annotations

import hashlib
import secrets

import numpy as np

from speech.errors import EngineError

from .base import SynthesisRequest, VoicePrompt
from .dia_buckets import RequestTooLong
from .dia_decode import DecodeItem
from .dia_settings import HOP, TOKENS_PER_SECOND, InvalidVoicePrompt, TextTooLong, VoicePromptTooLong


class DiaPrompts:
    """The input side of `DiaEngine` (a mixin: it uses the engine's `_processor`, `_model`, `buckets`,
    `generation` and `_prompt_cache`)."""

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
