"""The Celery app. Web processes use it only to send tasks by name; workers import the task modules."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odiadev.settings.base")

app = Celery("odiadev")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Task modules are imported by worker processes only (autodiscovery runs when a worker starts), so the engines
# they pull in never load in a web process.
app.autodiscover_tasks()
