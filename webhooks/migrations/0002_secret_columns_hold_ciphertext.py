"""Schema: the secret columns become text, wide enough for a Fernet token (the plain secret stays until 0003)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_endpoints_and_deliveries"),
    ]

    operations = [
        migrations.AlterField(model_name="webhookendpoint", name="secret", field=models.TextField()),
        migrations.AlterField(model_name="webhookendpoint", name="previous_secret", field=models.TextField(blank=True)),
    ]
