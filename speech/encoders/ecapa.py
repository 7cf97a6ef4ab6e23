"""ECAPA-TDNN through speechbrain's EncoderClassifier, loaded from a local folder (the production choice).

The folder holds `hyperparams.yaml` and the checkpoints it names, e.g. a copy of speechbrain/spkrec-ecapa-voxceleb
placed there at deploy time. Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def _folder_version(folder: Path) -> str:
    """A short fingerprint of the model folder, so stored scores name the exact weights that made them."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*")):
        if path.is_file() and path.suffix in {".yaml", ".ckpt", ".txt"}:
            digest.update(path.name.encode())
            digest.update(str(path.stat().st_size).encode())
            with path.open("rb") as f:
                digest.update(f.read(1 << 20))
    return digest.hexdigest()[:12]


class EcapaEncoder:
    name = "ecapa"
    sample_rate = 16000

    def __init__(self, source: str | Path, device: str = "cpu") -> None:
        self.source = Path(source)
        self.device = device
        self.version = ""
        self._classifier = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._classifier is not None:
                return
            if not (self.source / "hyperparams.yaml").is_file():
                raise FileNotFoundError(f"SPEAKER_ENCODER_SOURCE {self.source} has no hyperparams.yaml")
            from speechbrain.inference.classifiers import EncoderClassifier
            from speechbrain.utils.fetching import LocalStrategy

            self._classifier = EncoderClassifier.from_hparams(
                source=str(self.source),
                savedir=str(self.source),
                run_opts={"device": self.device},
                local_strategy=LocalStrategy.NO_LINK,
            )
            self._classifier.eval()
            self.version = f"ecapa:{_folder_version(self.source)}"
            logger.info("ECAPA encoder loaded (%s from %s)", self.version, self.source)

    def embed(self, samples: np.ndarray) -> np.ndarray:
        import torch

        self.load()
        with torch.inference_mode():
            wav = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).unsqueeze(0)
            embedding = self._classifier.encode_batch(wav).squeeze().cpu().numpy().astype(np.float64)
        return embedding / max(float(np.linalg.norm(embedding)), 1e-9)
