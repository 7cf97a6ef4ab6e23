"""manage.py rotate_field_keys: re-encrypt every secret stored encrypted with the first FIELD_ENCRYPTION_KEYS key."""

from django.core.management.base import BaseCommand

from core.encryption import field_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field (webhook signing secrets) with the first key of FIELD_ENCRYPTION_KEYS. "
        "Run it after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args, **options):
        for label, count in field_keys_rotate().items():
            self.stdout.write(f"{label}: {count} rows re-encrypted with the first key")
