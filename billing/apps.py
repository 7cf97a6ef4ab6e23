from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Plans, quotas, the usage ledger and Stripe arrive with the billing issue."""

    name = "billing"
    label = "billing"
    verbose_name = "Billing"
