"""Data: encrypt the signing secrets stored in the clear (reversible: backwards decrypts them again).

The historical model's fields are plain text here, so the values are read and written as stored; the encryption is
core.encryption's, with the keys of this deployment's settings.
"""

from django.db import migrations

from core.encryption import field_decrypt, field_encrypt

FIELDS = ("secret", "previous_secret")


def _convert(apps, transform):
    endpoint_model = apps.get_model("webhooks", "WebhookEndpoint")
    for endpoint in endpoint_model.objects.only(*FIELDS).order_by("pk"):
        values = {name: transform(getattr(endpoint, name)) for name in FIELDS if getattr(endpoint, name)}
        if values:
            endpoint_model.objects.filter(pk=endpoint.pk).update(**values)


def encrypt_secrets(apps, schema_editor):
    _convert(apps, field_encrypt)


def decrypt_secrets(apps, schema_editor):
    _convert(apps, field_decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_secret_columns_hold_ciphertext"),
    ]

    operations = [
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
    ]
