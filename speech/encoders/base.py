"""The speaker encoder interface."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class SpeakerEncoder(Protocol):
    name: str
    version: str
    sample_rate: int  # the rate `embed` expects

    def load(self) -> None: ...

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """L2-normalised embedding of one utterance (mono float32 at `sample_rate`)."""
        ...


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    denominator = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denominator) if denominator else 0.0
