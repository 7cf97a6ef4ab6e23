"""Webhook signing secrets are stored encrypted (core.encryption): the database never holds the plain secret,
deliveries are still signed with it, keys rotate with `manage.py rotate_field_keys`, and the data migration
encrypts the secrets of an existing deployment (and decrypts them again backwards)."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core.encryption import field_encrypt
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_rotate_secret
from webhooks.signing import signature_compute
from webhooks.transport import endpoint_signing_secrets

from .helpers import register

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/hooks/odiadev"


def _stored(endpoint) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret, previous_secret FROM webhooks_webhookendpoint WHERE id = %s",
            [endpoint.pk.hex if connection.vendor == "sqlite" else endpoint.pk],
        )
        return cursor.fetchone()


def test_the_database_holds_no_plain_secret_and_signing_uses_the_real_one(user):
    issued = register(user, URL)
    rotated = webhook_endpoint_rotate_secret(endpoint=issued.endpoint)

    stored_secret, stored_previous = _stored(issued.endpoint)
    assert issued.secret not in stored_previous
    assert rotated.secret not in stored_secret
    assert "whsec_" not in stored_secret + stored_previous
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert endpoint.secret == rotated.secret
    assert endpoint.previous_secret == issued.secret
    # Both secrets sign during the grace period, exactly as a receiver holding either one checks them.
    assert endpoint_signing_secrets(endpoint) == [rotated.secret, issued.secret]
    assert signature_compute(secret=endpoint.secret, timestamp=1, body=b"{}") == signature_compute(
        secret=rotated.secret, timestamp=1, body=b"{}"
    )


def test_rotating_the_encryption_key_re_encrypts_every_secret(user, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    issued = register(user, URL)
    before = _stored(issued.endpoint)[0]
    assert Fernet(old).decrypt(before.encode()).decode() == issued.secret

    # given a new key first and the old one still listed, when the command runs
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_field_keys", stdout=out)

    # then the stored value is the new key's, and the old key can go
    assert "webhooks.WebhookEndpoint: 1 rows re-encrypted" in out.getvalue()
    after = _stored(issued.endpoint)[0]
    assert after != before
    assert Fernet(new).decrypt(after.encode()).decode() == issued.secret
    settings.FIELD_ENCRYPTION_KEYS = [new]
    settings.SECRET_KEY = "another-secret-key-so-the-derived-key-cannot-help"
    assert WebhookEndpoint.objects.get(pk=issued.endpoint.pk).secret == issued.secret
    # A value whose key is gone is refused with the explanation, never returned as garbage.
    settings.FIELD_ENCRYPTION_KEYS = [old]
    with pytest.raises(ImproperlyConfigured, match="rotate_field_keys"):
        WebhookEndpoint.objects.get(pk=issued.endpoint.pk)


def test_without_configured_keys_a_key_derived_from_secret_key_is_used_and_survives_its_rotation(user, settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    issued = register(user, URL)
    old_secret_key = settings.SECRET_KEY

    # SECRET_KEY rotated the Django way: the old one in SECRET_KEY_FALLBACKS still decrypts.
    settings.SECRET_KEY = "a-brand-new-secret-key-for-this-deployment"
    settings.SECRET_KEY_FALLBACKS = [old_secret_key]
    assert WebhookEndpoint.objects.get(pk=issued.endpoint.pk).secret == issued.secret
    call_command("rotate_field_keys", stdout=io.StringIO())
    settings.SECRET_KEY_FALLBACKS = []
    assert WebhookEndpoint.objects.get(pk=issued.endpoint.pk).secret == issued.secret


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_encrypts_existing_secrets_and_backwards_decrypts_them(user):
    issued = register(user, URL)
    executor = MigrationExecutor(connection)
    executor.migrate([("webhooks", "0002_secret_columns_hold_ciphertext")])
    try:
        # Before 0003 the column holds the secret in the clear (as a deployment from before this change does).
        assert _stored(issued.endpoint)[0] == issued.secret

        executor = MigrationExecutor(connection)
        executor.migrate([("webhooks", "0003_encrypt_signing_secrets")])
        assert issued.secret not in _stored(issued.endpoint)[0]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("webhooks"))
    assert WebhookEndpoint.objects.get(pk=issued.endpoint.pk).secret == issued.secret


def test_a_malformed_key_is_reported_by_the_system_check(settings):
    from core.encryption import field_encryption_keys_check

    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    assert [message.id for message in field_encryption_keys_check(None)] == ["core.E001"]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert field_encryption_keys_check(None) == []
    assert field_encrypt("x") != field_encrypt("x")  # randomised: equal secrets do not show as equal rows
