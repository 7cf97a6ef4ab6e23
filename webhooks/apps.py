from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from core.encryption import field_encryption_keys_check


class WebhooksConfig(AppConfig):
    name = "webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        checks.register(private_targets_check, checks.Tags.security, deploy=True)
        # Webhook signing secrets are the encrypted fields (core.encryption): their keys must parse.
        checks.register(field_encryption_keys_check, checks.Tags.security)


def private_targets_check(app_configs, **kwargs):
    """A deployment that lets webhooks reach private addresses lets any customer probe its internal network."""
    if settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        return [
            checks.Warning(
                "WEBHOOKS_ALLOW_PRIVATE_TARGETS is on: customers' webhook endpoints may point at loopback, private "
                "and link-local addresses (your own network, cloud metadata) and use plain http.",
                hint="Unset WEBHOOKS_ALLOW_PRIVATE_TARGETS outside development and tests.",
                id="webhooks.W001",
            )
        ]
    return []
