"""Batched decoding in `DiaEngine`: the engine's one GPU thread, `synthesize_batch` (each request comes back with
its pieces or its own error), the out-of-memory shrink, and `stream_many` (one caller's requests as one batch)."""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from speech.errors import EngineError

from .base import PcmChunk, SynthesisRequest
from .dia_decode import DecodeCancelled, DecodeItem
from .dia_settings import SAMPLE_RATE, BatchResult, GpuOutOfMemory, PieceCallback

logger = logging.getLogger(__name__)


@dataclass
class _Job:
    """A request on its way through a batch: prepared input, pieces so far, and whether anyone still wants it."""

    index: int
    request: SynthesisRequest
    item: DecodeItem | None = None
    result: BatchResult = field(default_factory=BatchResult)
    emitted_frames: int = 0
    finished: bool = False  # decoded to the end: its result stands whatever happens to the rest of the batch


class _Calls:
    """The caller's hooks for one synthesize call, each request announced final exactly once."""

    def __init__(self, on_piece, on_final, is_cancelled) -> None:
        self._on_piece, self._on_final, self._is_cancelled = on_piece, on_final, is_cancelled
        self._announced: set[int] = set()

    def piece(self, job: _Job, piece: PcmChunk) -> None:
        if self._on_piece is not None:
            self._on_piece(job.index, piece)

    def final(self, job: _Job) -> None:
        if job.index in self._announced:
            return
        self._announced.add(job.index)
        if self._on_final is not None:
            self._on_final(job.index, job.result)

    def cancelled(self, job: _Job) -> bool:
        return bool(self._is_cancelled(job.index))


class DiaBatching:
    """The batch side of `DiaEngine` (a mixin: it uses the engine's `max_batch`, `stream`, `counters`, `device`,
    `_loop`, `_gpu`, `_gpu_thread_id`, `load`, `_sampling`, `_prepare` and `_frames_arrived`). All GPU work runs on
    the engine's own thread: torch 2.11's compiled graphs and CUDA graphs are not safe across threads."""

    def _mark_gpu_thread(self) -> None:
        self._gpu_thread_id = threading.get_ident()

    def stream_many(self, requests: Sequence[SynthesisRequest]) -> Iterator[PcmChunk]:
        """Decode `requests` as batch items; yield request 0's pieces as they decode, then request 1's, ...

        A request that fails raises its error when its turn comes (the ones before it have been yielded). A request
        that decodes to no audio at all yields one empty piece. Closing the iterator early abandons the rest.
        """
        queues: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in requests]
        abandoned = threading.Event()

        def on_piece(index: int, piece: PcmChunk) -> None:
            queues[index].put(piece)

        def on_final(index: int, result: BatchResult) -> None:
            queues[index].put(result)

        future = self._submit_gpu(
            lambda: self._synthesize(requests, on_piece, on_final=on_final, is_cancelled=lambda i: abandoned.is_set())
        )
        try:
            for q in queues:
                got_any = False
                while not isinstance(item := q.get(), BatchResult):
                    got_any = True
                    yield item
                if item.error is not None:
                    raise item.error
                if not got_any:
                    yield PcmChunk(samples=np.zeros(0, dtype=np.float32), sample_rate=SAMPLE_RATE)
            future.result()
        finally:
            abandoned.set()

    def synthesize_batch(
        self,
        requests: Sequence[SynthesisRequest],
        on_piece: PieceCallback | None = None,
        *,
        on_final: Callable[[int, BatchResult], None] | None = None,
        is_cancelled: Callable[[int], bool] | None = None,
    ) -> list[BatchResult]:
        """Decode up to `max_batch` requests at a time together; each comes back with its pieces or its own error.

        A request is one generation (call `segments` first for long text). A request that cannot be prepared (a
        bad voice prompt, a text too long for the largest bucket) fails alone. A CUDA out-of-memory error halves
        the batch and retries the halves; a request that runs out of memory alone, or after part of its audio was
        already handed to `on_piece`, fails with GpuOutOfMemory. `on_piece(index, piece)` is called on the engine's
        GPU thread as pieces decode, in order for each request; the pieces are also in the results. Keep it quick
        (hand the piece to a queue): the whole batch waits for it. `on_final(index, result)` comes once per request
        as soon as its result is settled (before the batch ends); `is_cancelled(index)` lets a caller drop one.
        """
        self.load()
        return self._on_gpu(lambda: self._synthesize(requests, on_piece, on_final, is_cancelled))

    # -- the GPU thread ---------------------------------------------------------------------------------------
    def _submit_gpu(self, fn) -> concurrent.futures.Future:
        if threading.get_ident() == self._gpu_thread_id:
            future: concurrent.futures.Future = concurrent.futures.Future()
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
            return future
        return self._gpu.submit(fn)

    def _on_gpu(self, fn):
        return self._submit_gpu(fn).result()

    def close(self) -> None:
        """Stop the engine's GPU thread (after the work already queued)."""
        self._gpu.shutdown(wait=True)

    # -- one call of synthesize_batch, on the GPU thread ---------------------------------------------------
    def _synthesize(
        self,
        requests: Sequence[SynthesisRequest],
        on_piece: PieceCallback | None,
        on_final: Callable[[int, BatchResult], None] | None = None,
        is_cancelled: Callable[[int], bool] | None = None,
    ) -> list[BatchResult]:
        """Prepare each request (failures stay with their request), then decode them in groups of `max_batch`.

        `on_final(index, result)` is called once per request when its result can no longer change;
        `is_cancelled(index)` says a caller no longer wants a request (a batch whose requests are all unwanted
        stops early).
        """
        # `generation` may have been replaced since loading (tests and benches do): decode with what it says now.
        self._loop.set_sampling(self._sampling())
        calls = _Calls(on_piece, on_final, is_cancelled or (lambda index: False))
        jobs = [_Job(index=i, request=r) for i, r in enumerate(requests)]
        ready: list[_Job] = []
        for job in jobs:
            try:
                job.item = self._prepare(job.request)
                job.result.seed = job.item.seed
                ready.append(job)
            except EngineError as exc:
                job.result.error = exc
                calls.final(job)
        try:
            for start in range(0, len(ready), self.max_batch):
                self._run_group(ready[start : start + self.max_batch], calls)
        except Exception as exc:
            # Not a request's fault (a bug, a CUDA fault): every request still waiting fails with it, none is
            # reported as a success with missing audio.
            logger.exception("DIA batch failed")
            for job in ready:
                if not job.finished and job.result.error is None:
                    job.result.error = EngineError(f"synthesis failed: {type(exc).__name__}: {exc}"[:500])
                    job.result.error.__cause__ = exc
        finally:
            for job in jobs:
                calls.final(job)  # (once each: a request already final is not announced again)
            self.counters["items"] += len(jobs)
            self.counters["failed_items"] += sum(1 for job in jobs if job.result.error is not None)
        return [job.result for job in jobs]

    def _run_group(self, group: list[_Job], calls: _Calls) -> None:
        import torch

        try:
            self._decode_group(group, calls)
            return
        except self._oom_errors() as exc:
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            logger.warning("DIA batch of %d ran out of GPU memory: %s", len(group), str(exc).splitlines()[0][:200])
            failure = exc
        # Requests that finished keep their audio. Audio already streamed cannot be taken back: those requests
        # fail, as does a request alone. The rest retry in halves.
        retry = []
        for job in group:
            if job.finished:
                continue
            if job.emitted_frames or len(group) == 1:
                job.result.error = GpuOutOfMemory("The GPU ran out of memory for this job.")
                job.result.error.__cause__ = failure
                calls.final(job)
            else:
                retry.append(job)
        if retry:
            self.counters["oom_shrinks"] += 1
            half = (len(retry) + 1) // 2
            for part in (retry[:half], retry[half:]):
                if part:
                    self._run_group(part, calls)

    def _oom_errors(self) -> tuple[type[BaseException], ...]:
        """The exception types that mean "out of GPU memory" (a test double may widen this)."""
        import torch

        return (torch.cuda.OutOfMemoryError,)

    def _decode_group(self, group: list[_Job], calls: _Calls) -> None:
        settings = self.stream

        def on_frames(i: int, frames: np.ndarray, finished: bool) -> None:
            self._frames_arrived(group[i], frames, finished, calls, settings)

        self.counters["batches"] += 1
        try:
            outputs = self._loop.decode(
                [job.item for job in group],
                on_frames=on_frames,
                should_stop=lambda: all(calls.cancelled(job) for job in group),
            )
        except DecodeCancelled:
            for job in group:
                if not job.finished:
                    job.result.error = EngineError("abandoned by the caller")
                    calls.final(job)
            return
        for job, out in zip(group, outputs, strict=True):
            job.result.steps = out.steps
            self.counters["steps"] += out.steps
