"""Voice activity detection with silero-vad (its model ships inside the package; no download)."""

from __future__ import annotations

import threading

import numpy as np

_model = None
_lock = threading.Lock()


def _silero():
    global _model
    with _lock:
        if _model is None:
            from silero_vad import load_silero_vad

            _model = load_silero_vad(onnx=False)
        return _model


def speech_ratio(samples: np.ndarray, sample_rate: int) -> float:
    """Share of `samples` (mono float32, 8 or 16 kHz) that silero-vad marks as speech."""
    import torch
    from silero_vad import get_speech_timestamps

    if samples.size == 0:
        return 0.0
    timestamps = get_speech_timestamps(
        torch.from_numpy(np.ascontiguousarray(samples)), _silero(), sampling_rate=sample_rate
    )
    voiced = sum(t["end"] - t["start"] for t in timestamps)
    return min(1.0, voiced / len(samples))


def warm() -> None:
    """Load the VAD model now rather than on the first upload."""
    _silero()
