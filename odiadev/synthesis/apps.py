from django.apps import AppConfig


class SynthesisConfig(AppConfig):
    name = "odiadev.synthesis"
    label = "synthesis"
    verbose_name = "Synthesis"
