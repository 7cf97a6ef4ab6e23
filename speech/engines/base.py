"""The engine interface every speech engine implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class EngineCapabilities:
    cloning: bool = False
    streaming: bool = False
    gpu: bool = False
    # Reports where each word of a request is said (`PcmChunk.words`) when the request asks (`alignments`).
    alignments: bool = False


@dataclass(frozen=True)
class EngineVoice:
    id: str
    language: str
    sample_rate: int


@dataclass(frozen=True)
class VoicePrompt:
    """A cloned voice: reference audio (mono float32 at the engine's rate) and what is said in it."""

    audio: np.ndarray
    transcript: str


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    voice: str
    speed: float = 1.0
    seed: int | None = None
    # A cloned voice's reference; only engines with `capabilities.cloning` accept one.
    prompt: VoicePrompt | None = None
    # Word timings wanted on the chunks (engines with `capabilities.alignments`).
    alignments: bool = False


@dataclass(frozen=True)
class WordTiming:
    """Word `index` of the request's text (its whitespace-separated words, from 0) is said from sample `start` to
    `end` of the chunk that carries it."""

    index: int
    start: int
    end: int


@dataclass(frozen=True)
class PcmChunk:
    """Mono float32 samples in [-1, 1] at `sample_rate`; one chunk per sentence for streaming engines.

    `continues`: these samples carry on the previous chunk's with no gap (one generation handed out in pieces as
    it decodes, as Dia does): join them as they are. Without it a chunk is a new generation, and a seam joining it
    to the previous one gets a short crossfade.
    """

    samples: np.ndarray
    sample_rate: int
    continues: bool = False
    # With `SynthesisRequest.alignments`: the words said in this chunk, where (None: not asked, or not known).
    words: tuple[WordTiming, ...] | None = None

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@runtime_checkable
class Engine(Protocol):
    name: str
    capabilities: EngineCapabilities
    model_id: str
    model_revision: str

    def load(self) -> None:
        """Load weights once; called when the worker process starts (warm) or on first use."""

    def voices(self) -> list[EngineVoice]: ...

    def segments(self, text: str, *, max_chars: int) -> list[str]:
        """`text` cut into the pieces this engine speaks one at a time (each one unit of progress). Engines with
        a generation length of their own (Dia) may ignore `max_chars`."""
        ...

    def synthesize(self, request: SynthesisRequest) -> Iterator[PcmChunk]:
        """Yield PCM chunks in order; the concatenation is the whole utterance."""
        ...


@runtime_checkable
class GpuEngine(Engine, Protocol):
    """An engine that holds GPU memory: reports it against its budget (heartbeat, /health, /metrics)."""

    def vram(self) -> dict:
        """{"used_gb", "peak_gb", "budget_gb", "over_budget"} for this process (zeros on the CPU)."""
        ...
