from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # lazy: ready() runs once the app registry is loaded; collectors register once per process.
        from core.metrics import RedisMetricsCollector, register_collector

        from .metrics import OpsCollector

        # Figures recorded by any process (web or worker) live in Redis; every web process exports them.
        register_collector(RedisMetricsCollector())
        register_collector(OpsCollector())
