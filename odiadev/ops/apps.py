from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "odiadev.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from .metrics import RedisMetricsCollector

        # Figures recorded by any process (web or worker) live in Redis; every web process exports them.
        if not any(isinstance(c, RedisMetricsCollector) for c in list(REGISTRY._collector_to_names)):
            REGISTRY.register(RedisMetricsCollector())
