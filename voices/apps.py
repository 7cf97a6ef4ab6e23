from django.apps import AppConfig

from billing.storage_reporters import storage_reporter_register


class VoicesConfig(AppConfig):
    name = "voices"
    label = "voices"
    verbose_name = "Voices"

    def ready(self) -> None:
        # Billing keeps each account's storage figure; it opens one from the samples without importing us.
        storage_reporter_register("voices.samples", "voices.selectors.voice_samples_stored_bytes_for")
