"""The per-process copies of operators' limits and of the IP blocklist are refreshed by one thread while the others
go on with the copy they have. Before, every request waited on a process lock while the refreshing thread waited
for a database connection: with the PostgreSQL pool full of requests that held a connection and waited on that
lock, the web process stalled until the pool's 30 s timeout, then again (found by bench/load.py: 373 requests
without an answer in 150 s, every one of them behind such a stall)."""

from __future__ import annotations

import threading
import time

import pytest

from controls import blocklist, limits
from controls.limits import LimitName, limit_set, limit_value, limits_cache_clear


def _returns_while_the_lock_is_held(lock: threading.Lock, call) -> object:
    """Call `call` in another thread while `lock` is held (as by a thread reading the database): its result, or
    fail if it waited for the lock."""
    results = []
    with lock:
        worker = threading.Thread(target=lambda: results.append(call()), daemon=True)
        worker.start()
        worker.join(5)
        assert not worker.is_alive(), "the caller waited on the refreshing thread's lock"
    return results[0]


@pytest.mark.django_db(transaction=True)
def test_a_stale_limit_is_answered_from_the_copy_while_another_thread_reads_it_again(monkeypatch):
    limits_cache_clear()
    limit_set(name=LimitName.RATE_LIMIT_PER_IP_PER_MINUTE, value=321, reason="test: stale copy")
    assert limit_value(LimitName.RATE_LIMIT_PER_IP_PER_MINUTE) == 321  # the copy, fresh
    monkeypatch.setattr(limits, "_loaded_at", time.monotonic() - limits.LIMIT_CACHE_SECONDS - 1)  # now stale

    value = _returns_while_the_lock_is_held(limits._lock, lambda: limit_value(LimitName.RATE_LIMIT_PER_IP_PER_MINUTE))

    assert value == 321
    limits_cache_clear()


@pytest.mark.django_db(transaction=True)
def test_a_stale_blocklist_is_answered_from_the_copy_while_another_thread_reads_it_again(monkeypatch):
    blocklist.blocklist_cache_clear()
    blocklist.ip_block_create(network="203.0.113.7", reason="test: stale copy")
    assert blocklist.ip_block_find("203.0.113.7") is not None  # the copy, fresh
    snapshot = blocklist._snapshot
    stale = blocklist._Snapshot(
        loaded_at=snapshot.loaded_at - blocklist.BLOCKLIST_CACHE_SECONDS - 1,
        addresses=snapshot.addresses,
        ranges=snapshot.ranges,
    )
    monkeypatch.setattr(blocklist, "_snapshot", stale)

    found = _returns_while_the_lock_is_held(blocklist._lock, lambda: blocklist.ip_block_find("203.0.113.7"))

    assert found is not None
    blocklist.blocklist_cache_clear()
