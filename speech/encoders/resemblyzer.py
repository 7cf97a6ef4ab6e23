"""Resemblyzer's GE2E speaker encoder; its weights ship inside the PyPI package (the embedded default)."""

from __future__ import annotations

import logging
import threading
from importlib import metadata

import numpy as np

logger = logging.getLogger(__name__)


class ResemblyzerEncoder:
    name = "resemblyzer"
    sample_rate = 16000

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.version = f"resemblyzer=={metadata.version('resemblyzer')}"
        self._encoder = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._encoder is None:
                from resemblyzer import VoiceEncoder

                self._encoder = VoiceEncoder(device=self.device, verbose=False)
                logger.info("Resemblyzer encoder loaded (%s)", self.version)

    def embed(self, samples: np.ndarray) -> np.ndarray:
        from resemblyzer import preprocess_wav

        self.load()
        # preprocess_wav normalises loudness and trims long silences, as the encoder was trained on.
        wav = preprocess_wav(np.asarray(samples, dtype=np.float32), source_sr=self.sample_rate)
        embedding = self._encoder.embed_utterance(wav)
        return embedding / max(float(np.linalg.norm(embedding)), 1e-9)
