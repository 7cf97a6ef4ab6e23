from django.apps import AppConfig


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
