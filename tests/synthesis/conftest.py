import pytest
from django_redis import get_redis_connection

from billing.services import plan_assign


@pytest.fixture
def pro_unread(user, settings, request):
    """`user` on the Pro plan, its Piper jobs sent to a queue no worker reads: the live stacks that other tests start
    share this Redis, and their workers must not run the jobs that these tests run (or leave queued) themselves."""
    queue = f"{request.module.__name__}-nobody-reads"
    plan_assign(user=user, slug="pro")
    settings.SPEECH_ENGINE_QUEUES = {**settings.SPEECH_ENGINE_QUEUES, "piper": queue}
    yield user
    get_redis_connection("default").delete(queue)
