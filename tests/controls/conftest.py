import pytest
from django.conf import settings
from django_redis import get_redis_connection

from controls.blocklist import blocklist_cache_clear


@pytest.fixture(autouse=True)
def _fresh_abuse_state():
    """No block cached from another test, no request counters, flags or throttles left in Redis."""
    blocklist_cache_clear()
    redis = get_redis_connection("default")
    for key in redis.scan_iter(f"{settings.REDIS_KEY_PREFIX}:abuse:*"):
        redis.delete(key)
    yield
    blocklist_cache_clear()
