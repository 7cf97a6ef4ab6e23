"""Secrets stored encrypted at rest: a model field that encrypts on write and decrypts on read (Fernet).

Keys come from `FIELD_ENCRYPTION_KEYS` (comma-separated Fernet keys). The first encrypts; every key decrypts, so a
key is rotated by putting a new one first, running `manage.py rotate_field_keys` (re-encrypts every value with the
first key) and then dropping the old one. Without the setting the key is derived from SECRET_KEY: fine for the
embedded mode, but then whoever has SECRET_KEY can read the secrets, and changing SECRET_KEY needs the old one in
SECRET_KEY_FALLBACKS until `rotate_field_keys` has run. Keys derived from SECRET_KEY and its fallbacks always stay
accepted for decryption (after the configured keys), so a deployment can move to its own key with the command.

Fernet is authenticated (AES-128-CBC + HMAC-SHA256) and randomised: the same secret encrypts differently each time,
so an encrypted column cannot be searched or compared in SQL; these fields hold values that are only ever read by
primary key (signing secrets).
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.crypto import salted_hmac

_DERIVATION_SALT = "odiadev.core.encryption.field-key"


def derived_key(secret_key: str) -> bytes:
    """The Fernet key derived from a SECRET_KEY (HMAC-SHA256 with a salt of its own: no other use of the key can
    produce it)."""
    digest = salted_hmac(_DERIVATION_SALT, "field-encryption", secret=secret_key, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest)


def _keys() -> tuple[bytes, ...]:
    configured = [key.strip().encode() for key in settings.FIELD_ENCRYPTION_KEYS if key.strip()]
    derived = [derived_key(key) for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]
    return tuple(dict.fromkeys([*configured, *derived]))


@lru_cache(maxsize=8)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be a comma-separated list of Fernet keys (32 url-safe base64 bytes; "
            "make one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)."
        ) from exc


def field_encrypt(plaintext: str) -> str:
    return _fernet(_keys()).encrypt(plaintext.encode()).decode("ascii")


def field_decrypt(token: str) -> str:
    try:
        return _fernet(_keys()).decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "An encrypted value could not be decrypted with any of FIELD_ENCRYPTION_KEYS (or SECRET_KEY and its "
            "fallbacks): the key it was encrypted with is missing. Put it back in the list and run "
            "`manage.py rotate_field_keys`."
        ) from exc


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; the model attribute is always the plain text. Empty stays empty (it says
    only that there is no value, e.g. no previous secret)."""

    description = "Text encrypted at rest (FIELD_ENCRYPTION_KEYS)"

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return field_decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return field_encrypt(value)


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every concrete model with encrypted fields, and the names of those fields."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        names = [field.attname for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found


def field_keys_rotate() -> dict[str, int]:
    """Re-encrypt every encrypted value with the first key; returns how many rows of each model were rewritten.

    Each row is locked while it is rewritten, so a secret changed meanwhile (a webhook secret rotated by its owner)
    is not overwritten with the value read before."""
    from django.db import transaction

    rewritten = {}
    for model, names in encrypted_fields():
        manager = model._default_manager
        count = 0
        for pk in list(manager.order_by("pk").values_list("pk", flat=True)):
            with transaction.atomic():
                row = manager.select_for_update().only(*names).filter(pk=pk).first()
                if row is None:
                    continue
                # Read back decrypted (any key), written encrypted with the first key.
                manager.filter(pk=pk).update(**{name: getattr(row, name) for name in names})
                count += 1
        rewritten[model._meta.label] = count
    return rewritten


def field_encryption_keys_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A malformed key would only show when the first secret is read or written: say so at start-up instead."""
    for key in settings.FIELD_ENCRYPTION_KEYS:
        if not key.strip():
            continue
        try:
            Fernet(key.strip().encode())
        except ValueError:
            return [
                checks.Error(
                    "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key.",
                    hint="Each key is 32 url-safe base64-encoded bytes: Fernet.generate_key().",
                    id="core.E001",
                )
            ]
    return []
