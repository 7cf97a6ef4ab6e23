"""Speech engines for tests of failure handling and batching: they plug in through SPEECH_ENGINES like any
engine, fail in the way they are told to, and otherwise speak with the real Piper voice (or the tests' tiny Dia)."""

from __future__ import annotations

import threading

import numpy as np

from speech.engines.base import EngineCapabilities, EngineVoice, PcmChunk, SynthesisRequest
from speech.engines.dia import BatchResult, DiaEngine, GpuOutOfMemory
from speech.engines.piper import PiperEngine
from speech.errors import TransientEngineError

# How many calls fail before the engine works; set by the test (-1: fail forever).
failures_left = {"count": 0}


class FlakyEngine(PiperEngine):
    name = "flaky"

    def synthesize(self, request: SynthesisRequest):
        if failures_left["count"] != 0:
            failures_left["count"] -= 1
            raise TransientEngineError("the engine is warming up; try again")
        yield from super().synthesize(request)


class OutOfMemoryEngine(PiperEngine):
    """Fails every job the way a GPU engine does when CUDA runs out of memory."""

    name = "oom"

    def synthesize(self, request: SynthesisRequest):
        raise GpuOutOfMemory("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield  # a generator, like every engine


class GatedEngine(PiperEngine):
    """Speaks only once the test opens the gate, so a test can act while a job is running."""

    name = "gated"
    gate = None  # a threading.Event the test sets

    def synthesize(self, request: SynthesisRequest):
        assert GatedEngine.gate.wait(timeout=30), "the test never opened the gate"
        yield from super().synthesize(request)


class GatedBatchEngine:
    """A plain-Python batching engine (SPEECH_BATCHING): its first batch waits for the test's gate, so that jobs
    queue up behind it in the batch scheduler; every batch is recorded by the texts it held."""

    name = "gated_batch"
    capabilities = EngineCapabilities(streaming=True)
    model_id = "tests/gated-batch"
    model_revision = "1"
    max_batch = 4
    gate: threading.Event | None = None  # opened by the test
    entered: threading.Event | None = None  # set when the first batch reaches the engine
    batches: list[list[str]] = []

    def __init__(self, **_options) -> None:
        self._first = True

    def load(self) -> None:
        pass

    def voices(self) -> list[EngineVoice]:
        return [EngineVoice(id="gated", language="en", sample_rate=22050)]

    def segments(self, text: str, *, max_chars: int) -> list[str]:
        return [text]

    def synthesize(self, request: SynthesisRequest):
        raise AssertionError("a batching engine's jobs go through the batch scheduler")

    def synthesize_batch(self, requests, on_piece=None, *, on_final=None, is_cancelled=None):
        if self._first:
            self._first = False
            GatedBatchEngine.entered.set()
            assert GatedBatchEngine.gate.wait(timeout=30), "the test never opened the gate"
        GatedBatchEngine.batches.append([r.text for r in requests])
        results = []
        for index, _request in enumerate(requests):
            piece = PcmChunk(samples=np.full(2205, 0.1, dtype=np.float32), sample_rate=22050)
            if on_piece is not None:
                on_piece(index, piece)
            results.append(BatchResult(pieces=[piece]))
        return results


class FakeOutOfMemory(RuntimeError):
    """Stands in for torch.cuda.OutOfMemoryError (no GPU in the tests)."""


class OutOfMemoryDiaEngine(DiaEngine):
    """Dia on a GPU too small for even one request: every batch runs out of memory, shrinks to single requests,
    and each fails with GpuOutOfMemory."""

    name = "dia_oom"

    def _oom_errors(self):
        return (FakeOutOfMemory,)

    def _decode_group(self, group, calls):
        raise FakeOutOfMemory("CUDA out of memory (simulated)")
