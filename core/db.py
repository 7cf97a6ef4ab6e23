"""Database connections held across a wait.

A thread that is about to wait (a request awaiting a job's event, a worker thread while its engine works or while an
identical job holds the synthesis turn) gives its connections back, so that waiting threads never hold the database
server's connection slots: PostgreSQL's go back to the pool (or are closed without one). SQLite's stay open: it
holds no server's slot, and closing it would only open the file again, with its start-up pragmas, for the next
query (about 2 ms). Never inside a transaction (a test's atomic block keeps its connection)."""

from __future__ import annotations

from django.db import connections


def connections_release() -> None:
    """Give this thread's database connections back while it waits (module docstring); the next query takes one
    again."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block and conn.vendor != "sqlite":
            conn.close()
