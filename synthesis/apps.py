from django.apps import AppConfig

from billing.storage_reporters import storage_reporter_register


class SynthesisConfig(AppConfig):
    name = "synthesis"
    label = "synthesis"
    verbose_name = "Synthesis"

    def ready(self) -> None:
        # lazy: ready() runs once the app registry is loaded; collectors register once per process.
        from core.metrics import register_collector

        from . import checks  # noqa: F401 - registers the system checks
        from .metrics import JobStatusCollector

        register_collector(JobStatusCollector())
        # Billing keeps each account's storage figure; it opens one from the jobs' audio without importing us.
        storage_reporter_register("synthesis.job_audio", "synthesis.selectors.job_audio_stored_bytes_for")
