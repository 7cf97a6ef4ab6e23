from django.apps import AppConfig


class ControlsConfig(AppConfig):
    """The low layer every app may use: switches, runtime limits, admission, breaker, rate limits, blocklist,
    abuse counters. It imports only `core` (and Django): callers pass what it needs (a plan's rate, a user)."""

    name = "controls"
    label = "controls"
    verbose_name = "Controls"
