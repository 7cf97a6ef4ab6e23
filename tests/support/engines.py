"""A speech engine for tests of failure handling: it plugs in through SPEECH_ENGINES like any engine, fails in
the way it is told to, and otherwise speaks with the real Piper voice."""

from __future__ import annotations

from speech.engines.base import SynthesisRequest
from speech.engines.dia import GpuOutOfMemory
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
