"""The Celery app. Web processes use it only to send tasks by name; workers import the task modules."""

import os

from celery import Celery
from celery.fixups.django import DjangoFixup, DjangoWorkerFixup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odiadev.settings.base")


class _WorkerFixup(DjangoWorkerFixup):
    """Celery's Django fix-up closes every database connection before and after each task, and in a prefork pool
    process closes a PostgreSQL connection pool whole (celery#10554): each task then opened a new pool and a new
    server session (and a SQLite worker opened its file again). At a task's edges this does what Django does at a
    request's end: close the connections that are broken or older than CONN_MAX_AGE; a pooled connection goes back
    to its pool, which lives as long as the process. After a fork, the inherited connections and pools are still
    closed (Celery's `on_worker_process_init`)."""

    def close_database(self, **kwargs) -> None:
        from django.db import close_old_connections

        close_old_connections()


class _Fixup(DjangoFixup):
    @property
    def worker_fixup(self) -> DjangoWorkerFixup:
        if self._worker_fixup is None:
            self._worker_fixup = _WorkerFixup(self.app)
        return self._worker_fixup

    @worker_fixup.setter
    def worker_fixup(self, value: DjangoWorkerFixup) -> None:
        self._worker_fixup = value


def _django_fixup(app: Celery) -> DjangoFixup:
    return _Fixup(app).install()


app = Celery("odiadev", fixups=[_django_fixup])
# The default app of every thread: the apps send tasks through `celery.current_app`, which Celery keeps per thread
# and, in a thread that never set one (a request's), falls back to the default app. Celery's Django fix-up makes this
# app the default only if no other was made first (any earlier `current_app` read makes one, for amqp://localhost).
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
# Task modules are imported by worker processes only (autodiscovery runs when a worker starts), so the engines
# they pull in never load in a web process.
app.autodiscover_tasks()
