from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "odiadev.accounts"
    label = "accounts"
    verbose_name = "Accounts"
