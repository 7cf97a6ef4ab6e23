from django.apps import AppConfig


class VoicesConfig(AppConfig):
    name = "voices"
    label = "voices"
    verbose_name = "Voices"
