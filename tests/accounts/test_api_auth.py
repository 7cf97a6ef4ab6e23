"""API keys: no key, a wrong key or a revoked key is 401; keys are stored hashed and shown once."""

import hashlib

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_authenticate, api_key_create, api_key_revoke


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.mark.parametrize("path", ["/v1/voices", "/v1/tts", "/v1/tts/00000000-0000-0000-0000-000000000000"])
def test_no_key_is_401(anonymous, db, path):
    response = anonymous.get(path)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer odk_deadbeef_notarealsecret", "Bearer garbage", "Bearer ", "Bearer odk_x"],
)
def test_wrong_key_is_401(anonymous, issued_key, header):
    response = anonymous.get("/v1/voices", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_key_with_a_tampered_secret_is_401(anonymous, issued_key):
    tampered = issued_key.secret[:-2] + ("AA" if not issued_key.secret.endswith("AA") else "BB")

    response = anonymous.get("/v1/voices", HTTP_AUTHORIZATION=f"Bearer {tampered}")

    assert response.status_code == 401


def test_revoked_key_is_401(anonymous, issued_key, user):
    assert anonymous.get("/v1/voices", HTTP_AUTHORIZATION=f"Bearer {issued_key.secret}").status_code == 200

    api_key_revoke(user=user, key_id=issued_key.api_key.id)

    response = anonymous.get("/v1/voices", HTTP_AUTHORIZATION=f"Bearer {issued_key.secret}")
    assert response.status_code == 401


def test_key_of_a_deactivated_user_is_401(anonymous, issued_key, user):
    user.is_active = False
    user.save()

    assert anonymous.get("/v1/voices", HTTP_AUTHORIZATION=f"Bearer {issued_key.secret}").status_code == 401


def test_only_the_hash_is_stored_and_last_use_is_recorded(issued_key):
    stored = ApiKey.objects.get(pk=issued_key.api_key.pk)

    assert issued_key.secret not in {stored.secret_hash, stored.prefix, stored.name}
    assert stored.secret_hash == hashlib.sha256(issued_key.secret.encode()).hexdigest()
    assert stored.last_used_at is None
    assert api_key_authenticate(secret=issued_key.secret) == stored
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_revoking_another_users_key_is_not_found(user, other_user):
    others = api_key_create(user=other_user, name="theirs")

    with pytest.raises(Exception, match="not found"):
        api_key_revoke(user=user, key_id=others.api_key.id)
    assert api_key_authenticate(secret=others.secret) is not None


def test_voices_lists_the_builtin_voice(api):
    response = api.get("/v1/voices")

    assert response.status_code == 200
    voices = response.json()["voices"]
    joe = next(v for v in voices if v["id"] == "joe")
    assert joe["kind"] == "builtin"
    assert joe["engine"] == "piper"
    assert joe["language"] == "en-US"
    assert {"id", "name", "engine", "language", "kind"} <= set(joe)


def test_create_api_key_command_creates_user_and_prints_a_working_key(db, capsys):
    call_command("create_api_key", "--email", "ops@example.com", "--name", "ci")

    secret = capsys.readouterr().out.strip()
    api_key = api_key_authenticate(secret=secret)
    assert api_key is not None
    assert api_key.user.email == "ops@example.com"
    assert api_key.name == "ci"


def test_ensure_demo_is_idempotent(db, capsys):
    call_command("ensure_demo")
    first = capsys.readouterr().out
    call_command("ensure_demo")
    second = capsys.readouterr().out

    secret = next(line.split()[3] for line in first.splitlines() if line.startswith("Demo API key:"))
    assert api_key_authenticate(secret=secret) is not None
    assert "already issued" in second
    assert ApiKey.objects.count() == 1
