from django.apps import AppConfig


class VoicesConfig(AppConfig):
    name = "odiadev.voices"
    label = "voices"
    verbose_name = "Voices"
