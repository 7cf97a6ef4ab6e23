"""Dia's constants, errors, generation and streaming settings, and a batch item's result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from speech.errors import EngineError

from .base import PcmChunk

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
