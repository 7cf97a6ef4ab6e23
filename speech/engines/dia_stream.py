"""Streaming Dia: complete frames become audio pieces as they decode. Each piece is cut from a codec decode of its
frames plus `StreamSettings.context_frames` on each side (the DAC decoder's receptive field), so the pieces join
sample-exactly into the whole-utterance decode (`PcmChunk.continues` tells `speech.audio.stitch` to join them
without a crossfade)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import PcmChunk
from .dia_settings import HOP, SAMPLE_RATE, StreamSettings

if TYPE_CHECKING:
    from .dia_batch import _Calls, _Job


class DiaStreaming:
    """The codec side of `DiaEngine` (a mixin: it uses the engine's `stream`, `device`, `_codec`, `load` and
    `_on_gpu`). Runs on the engine's GPU thread."""

    def _frames_arrived(
        self, job: _Job, frames: np.ndarray, finished: bool, calls: _Calls, settings: StreamSettings
    ) -> None:
        """`job` has `frames` complete so far: hand out every whole piece whose right-hand context has decoded (all
        that is left once it has `finished`), then settle its result."""
        available = frames.shape[0]
        if settings.enabled and not calls.cancelled(job):
            while job.emitted_frames < available:
                size = settings.first_frames if job.emitted_frames == 0 else settings.frames
                end = min(job.emitted_frames + size, available)
                if not finished and (end - job.emitted_frames < size or end + settings.context_frames > available):
                    break  # wait for a whole piece and its right-hand context
                self._emit(job, frames, end, calls)
        if finished:
            if not settings.enabled and available and not calls.cancelled(job):
                self._emit(job, frames, available, calls)
            job.result.codes = frames
            job.finished = True
            calls.final(job)

    def _emit(self, job: _Job, frames: np.ndarray, end: int, calls: _Calls) -> None:
        start = job.emitted_frames
        piece = PcmChunk(samples=self._decode_window(frames, start, end), sample_rate=SAMPLE_RATE, continues=start > 0)
        job.emitted_frames = end
        job.result.pieces.append(piece)
        calls.piece(job, piece)

    def decode_codes(self, codes: np.ndarray) -> np.ndarray:
        """The whole-utterance codec decode of undelayed codes (frames x codebooks), as mono float32 in [-1, 1]."""
        self.load()
        if codes.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        return self._on_gpu(lambda: self._decode_window(codes, 0, codes.shape[0]))

    def _decode_window(self, frames: np.ndarray, start: int, end: int) -> np.ndarray:
        """Audio of frames [start, end), decoded with up to `context_frames` neighbours on each side and cut."""
        import torch

        ctx = self.stream.context_frames
        lo, hi = max(0, start - ctx), min(frames.shape[0], end + ctx)
        codes = torch.as_tensor(frames[lo:hi].T[None].copy(), dtype=torch.long, device=self.device)
        with torch.inference_mode():
            audio = self._codec.decode(audio_codes=codes).audio_values
        audio = audio.reshape(-1)[(start - lo) * HOP : (end - lo) * HOP]
        return np.clip(audio.detach().float().cpu().numpy(), -1.0, 1.0)
