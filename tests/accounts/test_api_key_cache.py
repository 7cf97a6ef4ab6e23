"""API keys are answered from the shared cache (no query per request), and a revoked key is refused at once."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.blocking import user_block
from accounts.models import ApiKey
from accounts.services import REVOKED, api_key_authenticate, api_key_revoke

pytestmark = pytest.mark.django_db


def _voices(secret: str) -> int:
    return APIClient().get("/v1/voices", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code


def test_a_key_used_once_is_answered_without_a_query(issued_key):
    assert api_key_authenticate(secret=issued_key.secret) is not None  # read from the database, then cached

    with CaptureQueriesContext(connection) as queries:
        api_key = api_key_authenticate(secret=issued_key.secret)

    assert api_key.pk == issued_key.api_key.pk
    assert api_key.user.pk == issued_key.api_key.user_id
    assert len(queries) == 0


def test_a_wrong_secret_with_a_cached_key_s_prefix_is_refused(issued_key):
    assert api_key_authenticate(secret=issued_key.secret) is not None
    forged = issued_key.secret[:-4] + ("AAAA" if not issued_key.secret.endswith("AAAA") else "BBBB")

    assert api_key_authenticate(secret=forged) is None
    assert _voices(forged) == 401


def test_a_revoked_key_is_refused_on_its_next_request_although_it_was_cached(issued_key, user):
    # given a key the API has just accepted (and cached)
    assert _voices(issued_key.secret) == 200
    assert _voices(issued_key.secret) == 200

    # when it is revoked
    api_key_revoke(user=user, key_id=issued_key.api_key.pk)

    # then the very next request is refused, and the cache says why
    assert _voices(issued_key.secret) == 401
    assert cache.get(f"apikey:{issued_key.api_key.secret_hash}") == REVOKED


def test_a_reader_that_loaded_the_key_before_the_revocation_cannot_cache_it_again(issued_key, user):
    # given a request that read the key from the database before the revocation committed
    stale = ApiKey.objects.select_related("user").get(pk=issued_key.api_key.pk)
    api_key_revoke(user=user, key_id=issued_key.api_key.pk)

    # when it then caches what it read (the service only ever adds an entry)
    cache.add(f"apikey:{stale.secret_hash}", stale, timeout=30)

    # then the key stays refused
    assert api_key_authenticate(secret=issued_key.secret) is None


def test_blocking_an_account_refuses_its_cached_keys_at_once(issued_key, user):
    assert _voices(issued_key.secret) == 200

    user_block(user=user, reason="abuse")

    assert _voices(issued_key.secret) == 401


def test_last_use_is_still_recorded_for_a_cached_key(issued_key):
    api_key_authenticate(secret=issued_key.secret)
    api_key_authenticate(secret=issued_key.secret)

    assert ApiKey.objects.get(pk=issued_key.api_key.pk).last_used_at is not None
