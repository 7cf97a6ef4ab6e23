"""The engine interface every speech engine implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class EngineCapabilities:
    cloning: bool = False
    streaming: bool = False
    gpu: bool = False


@dataclass(frozen=True)
class EngineVoice:
    id: str
    language: str
    sample_rate: int


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    voice: str
    speed: float = 1.0
    seed: int | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PcmChunk:
    """Mono float32 samples in [-1, 1] at `sample_rate`; one chunk per sentence for streaming engines."""

    samples: np.ndarray
    sample_rate: int

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

    def synthesize(self, request: SynthesisRequest) -> Iterator[PcmChunk]:
        """Yield PCM chunks in order; the concatenation is the whole utterance."""
        ...
