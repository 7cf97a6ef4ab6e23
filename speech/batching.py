"""An in-process batch scheduler for a GPU worker whose Celery tasks run in threads.

Each task thread calls `scheduler.submit(request, account_key)` (or `stream(...)` for the segments of one job) and
blocks; one scheduler thread gathers what arrives within `window_ms` (up to `max_batch` requests), hands the batch
to the engine's `synthesize_batch`, and gives every thread its own pieces or its own exception. While a batch
decodes, new requests queue; the next batch forms as soon as the engine is free.

Fairness: requests are taken first come first served, except that while several accounts wait, one account gets
at most `account_share` of a batch's slots (at least one); slots nobody else wants then go to whoever is waiting,
oldest first, so a lone account still fills a batch. `account_share=1` is plain first come first served: an account
that queued eight requests a moment earlier takes all of a batch of eight, and the next account waits a whole
generation.

What `seed` guarantees under batching: every request samples from its own generator seeded with its seed, so its
randomness does not depend on its neighbours. Its logits are computed in a batch, though: on a GPU in bf16 the
kernels round differently for different batch shapes, so the same request and seed can come out as a different
(equally valid) take in a batch of 8 than alone. On the CPU in float32 the takes have matched in every test. Treat
a seed as "this voice, this delivery, reproducible for the same batch shape", not as bit-exact audio.

Pieces reach the submitting thread through a queue, so work done on a piece (encoding, watermarking, publishing)
happens in the task's thread and never holds up the batch.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from speech.engines.base import PcmChunk, SynthesisRequest
from speech.errors import EngineError, TransientEngineError

logger = logging.getLogger(__name__)


class SchedulerClosed(TransientEngineError):
    """The worker is shutting down; the job should be retried elsewhere."""

    code = "engine_shutting_down"


class QueueFull(TransientEngineError):
    code = "engine_busy"


class Cancelled(EngineError):
    code = "cancelled"


class SynthesisTimeout(TimeoutError):
    """A request did not finish within the time its caller waits for it."""


class BatchEngine(Protocol):
    max_batch: int

    def synthesize_batch(
        self,
        requests: Sequence[SynthesisRequest],
        on_piece: Callable[[int, PcmChunk], None] | None = None,
        *,
        on_final: Callable[[int, object], None] | None = None,
        is_cancelled: Callable[[int], bool] | None = None,
    ) -> list: ...


_FINAL = object()


@dataclass(eq=False)
class Ticket:
    """One request in the scheduler: a handle to wait on, stream from or cancel."""

    request: SynthesisRequest
    account: str
    number: int
    enqueued: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    pieces: list[PcmChunk] = field(default_factory=list)
    error: BaseException | None = None
    cancelled: bool = False
    batch: int | None = None  # the scheduler's number of the batch it decoded in (from 1)
    batch_size: int | None = None  # requests in that batch
    _queue: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    _done: threading.Event = field(default_factory=threading.Event)

    def stream(self, timeout: float | None = None) -> Iterator[PcmChunk]:
        """The request's pieces as they decode (in this thread); raises the request's error at the end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                raise SynthesisTimeout("the synthesis did not finish in time") from None
            if item is _FINAL:
                break
            yield item
        if self.error is not None:
            raise self.error

    def result(self, timeout: float | None = None) -> list[PcmChunk]:
        if not self._done.wait(timeout):
            raise SynthesisTimeout("the synthesis did not finish in time")
        if self.error is not None:
            raise self.error
        return list(self.pieces)

    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        """Drop the request: taken off the queue if it has not started, its pieces ignored if it has."""
        self.cancelled = True

    # -- the scheduler's side ------------------------------------------------------------------------------
    def _piece(self, piece: PcmChunk) -> None:
        self._queue.put(piece)

    def _finish(self, pieces: list[PcmChunk] | None, error: BaseException | None) -> None:
        if self._done.is_set():
            return
        self.finished = time.monotonic()
        if pieces is not None:
            self.pieces = list(pieces)
        self.error = error
        self._done.set()
        self._queue.put(_FINAL)


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values), q)), 4) if values else None


class BatchScheduler:
    """Batches requests from many threads onto one engine. Start it once per worker process; `shutdown` at exit."""

    def __init__(
        self,
        engine: BatchEngine,
        *,
        max_batch: int | None = None,
        window_ms: float = 5.0,
        account_share: float = 0.5,
        max_pending: int = 1024,
        stats_window: int = 2000,
    ) -> None:
        self.engine = engine
        self.max_batch = max(1, int(max_batch or engine.max_batch))
        self.window_s = max(0.0, window_ms / 1000)
        self.account_share = min(1.0, max(0.0, account_share))
        self.max_pending = max_pending
        self._cond = threading.Condition()
        self._pending: dict[str, deque[Ticket]] = {}
        self._count = 0
        self._numbers = itertools.count()
        self._closing = False
        self._stats = {
            "batches": 0,
            "requests": 0,
            "failed": 0,
            "cancelled": 0,
            "busy_seconds": 0.0,
        }
        self._sizes: deque[int] = deque(maxlen=stats_window)
        self._waits: deque[float] = deque(maxlen=stats_window)
        self._latencies: deque[float] = deque(maxlen=stats_window)
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="batch-scheduler", daemon=True)
        self._thread.start()

    # -- the task threads' side ----------------------------------------------------------------------------
    def enqueue(self, request: SynthesisRequest, account_key: str) -> Ticket:
        """Queue one request; returns at once with its ticket."""
        with self._cond:
            if self._closing:
                raise SchedulerClosed("The synthesis worker is shutting down.")
            if self._count >= self.max_pending:
                raise QueueFull("The synthesis queue of this worker is full.")
            ticket = Ticket(request=request, account=str(account_key), number=next(self._numbers))
            self._pending.setdefault(ticket.account, deque()).append(ticket)
            self._count += 1
            self._cond.notify_all()
        return ticket

    def submit(
        self,
        request: SynthesisRequest,
        account_key: str,
        *,
        on_piece: Callable[[PcmChunk], None] | None = None,
        timeout: float | None = None,
    ) -> list[PcmChunk]:
        """Synthesize `request` in whatever batch it lands in; block until done and return its pieces.

        `on_piece` is called in this thread with each piece as it decodes. Raises the request's own error.
        """
        ticket = self.enqueue(request, account_key)
        try:
            for piece in ticket.stream(timeout=timeout):
                if on_piece is not None:
                    on_piece(piece)
        except BaseException:
            ticket.cancel()
            raise
        return list(ticket.pieces)

    def stream(
        self, requests: Sequence[SynthesisRequest], account_key: str, *, timeout: float | None = None
    ) -> Iterator[tuple[int, PcmChunk]]:
        """Queue the segments of one job as independent requests; yield (segment index, piece) in order.

        Later segments decode alongside earlier ones (in the same batch when there is room); their pieces wait
        here until their turn. A segment's error is raised when its turn comes; the rest are then cancelled.
        """
        yield from self.stream_tickets(self.enqueue_all(requests, account_key), timeout=timeout)

    def enqueue_all(self, requests: Sequence[SynthesisRequest], account_key: str) -> list[Ticket]:
        """Queue the segments of one job; if any cannot be queued (a full queue, a shutdown), none stay queued."""
        tickets: list[Ticket] = []
        try:
            for request in requests:
                tickets.append(self.enqueue(request, account_key))
        except BaseException:
            for ticket in tickets:
                ticket.cancel()
            raise
        return tickets

    @staticmethod
    def stream_tickets(tickets: Sequence[Ticket], *, timeout: float | None = None) -> Iterator[tuple[int, PcmChunk]]:
        """(ticket index, piece) in order, each ticket's pieces as they decode (`timeout` per ticket); a ticket's
        error is raised when its turn comes. Closing early, or an error, cancels the tickets not yet done."""
        try:
            for index, ticket in enumerate(tickets):
                for piece in ticket.stream(timeout=timeout):
                    yield index, piece
        finally:
            for ticket in tickets:
                if not ticket.done():
                    ticket.cancel()

    def stats(self) -> dict:
        """Batch sizes, occupancy and queue waits over the last `stats_window` batches/requests, for the ops panel."""
        with self._cond:
            pending = {account: len(q) for account, q in self._pending.items() if q}
            sizes, waits, latencies = list(self._sizes), list(self._waits), list(self._latencies)
            stats = dict(self._stats)
        uptime = time.monotonic() - self._started
        return {
            "max_batch": self.max_batch,
            "window_ms": round(self.window_s * 1000, 3),
            "account_share": self.account_share,
            "pending": sum(pending.values()),
            "pending_by_account": pending,
            **stats,
            "busy_seconds": round(stats["busy_seconds"], 3),
            "utilisation": round(stats["busy_seconds"] / uptime, 4) if uptime else 0.0,
            "batch_size_mean": round(sum(sizes) / len(sizes), 3) if sizes else None,
            "batch_size_histogram": {str(n): sizes.count(n) for n in sorted(set(sizes))},
            "occupancy": round(sum(sizes) / (len(sizes) * self.max_batch), 4) if sizes else None,
            "queue_wait_p50_s": _percentile(waits, 50),
            "queue_wait_p95_s": _percentile(waits, 95),
            "latency_p50_s": _percentile(latencies, 50),
            "latency_p95_s": _percentile(latencies, 95),
        }

    def shutdown(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Stop taking requests; the queued ones fail with SchedulerClosed (retryable), the running batch ends."""
        with self._cond:
            self._closing = True
            leftovers = [t for q in self._pending.values() for t in q]
            self._pending.clear()
            self._count = 0
            self._cond.notify_all()
        for ticket in leftovers:
            ticket._finish(None, SchedulerClosed("The synthesis worker is shutting down."))
        if wait:
            self._thread.join(timeout)

    # -- the scheduler thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._execute(batch)

    def _next_batch(self) -> list[Ticket] | None:
        with self._cond:
            while True:
                self._drop_cancelled()
                if self._closing:
                    return None
                if not self._count:
                    self._cond.wait()
                    continue
                # Wait out the window from the oldest request's arrival, unless a full batch is already here.
                deadline = min(q[0].enqueued for q in self._pending.values()) + self.window_s
                while self._count and self._count < self.max_batch and not self._closing:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                    self._drop_cancelled()
                if self._closing:
                    return None
                if self._count:
                    return self._form_batch()

    def _drop_cancelled(self) -> None:
        for account, q in list(self._pending.items()):
            kept = deque(t for t in q if not t.cancelled)
            for ticket in q:
                if ticket.cancelled:
                    self._stats["cancelled"] += 1
                    ticket._finish(None, Cancelled("The request was cancelled before it started."))
            self._count -= len(q) - len(kept)
            if kept:
                self._pending[account] = kept
            else:
                del self._pending[account]

    def _form_batch(self) -> list[Ticket]:
        """Up to max_batch tickets, oldest first, each account capped at its share while others wait; leftover
        slots then go to whoever still waits, oldest first."""
        waiting = sorted((t for q in self._pending.values() for t in q), key=lambda t: t.number)
        several = len(self._pending) > 1
        cap = max(1, int(self.max_batch * self.account_share)) if several else self.max_batch
        taken: dict[str, int] = dict.fromkeys(self._pending, 0)
        chosen: set[int] = set()
        for capped in (True, False):
            for ticket in waiting:
                if len(chosen) >= self.max_batch:
                    break
                if ticket.number in chosen or (capped and taken[ticket.account] >= cap):
                    continue
                chosen.add(ticket.number)
                taken[ticket.account] += 1
        batch = [t for t in waiting if t.number in chosen]
        for account in list(self._pending):
            kept = deque(t for t in self._pending[account] if t.number not in chosen)
            if kept:
                self._pending[account] = kept
            else:
                del self._pending[account]
        self._count -= len(batch)
        return batch

    def _execute(self, batch: list[Ticket]) -> None:
        started = time.monotonic()
        with self._cond:
            number = self._stats["batches"] + 1
        for ticket in batch:
            ticket.started = started
            ticket.batch, ticket.batch_size = number, len(batch)
            self._waits.append(started - ticket.enqueued)

        def on_piece(index: int, piece: PcmChunk) -> None:
            if not batch[index].cancelled:
                batch[index]._piece(piece)

        def on_final(index: int, result) -> None:
            ticket = batch[index]
            ticket._finish(result.pieces, result.error)

        try:
            results = self.engine.synthesize_batch(
                [t.request for t in batch],
                on_piece,
                on_final=on_final,
                is_cancelled=lambda index: batch[index].cancelled,
            )
            for ticket, result in zip(batch, results, strict=True):
                ticket._finish(result.pieces, result.error)
        except BaseException as exc:  # a bug, not a request's fault: every request of the batch hears of it
            logger.exception("batch of %d failed", len(batch))
            for ticket in batch:
                ticket._finish(None, exc)
        finally:
            ended = time.monotonic()
            with self._cond:
                self._stats["batches"] += 1
                self._stats["requests"] += len(batch)
                self._stats["failed"] += sum(1 for t in batch if t.error is not None)
                self._stats["busy_seconds"] += ended - started
                self._sizes.append(len(batch))
                for ticket in batch:
                    self._latencies.append((ticket.finished or ended) - ticket.enqueued)
