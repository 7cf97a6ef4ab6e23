"""ODIADEV-TTS: a self-hostable text-to-speech platform."""

from .celery import app as celery_app

__all__ = ("celery_app",)
