"""State: the secret fields are EncryptedTextField. The columns are the same text columns (the values were
encrypted by 0003), so nothing is done to the database."""

from django.db import migrations

import core.encryption


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0003_encrypt_signing_secrets"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="webhookendpoint", name="secret", field=core.encryption.EncryptedTextField()
                ),
                migrations.AlterField(
                    model_name="webhookendpoint",
                    name="previous_secret",
                    field=core.encryption.EncryptedTextField(blank=True),
                ),
            ]
        ),
    ]
