"""The OOM breaker: N CUDA out-of-memory errors within a window switch voice cloning off until an operator
turns it back on. Counts live in Redis so every GPU worker adds to the same window; only errors after the switch
was last turned on count, so turning it on is the reset."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django_redis import get_redis_connection

from core.metrics import counter_inc

from .limits import LimitName, limit_value
from .switches import SwitchName, switch_is_on, switch_on_since, switch_set


def _key() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:breaker:oom"


def oom_count() -> int:
    """CUDA OOMs within the window and since voice cloning was last turned on."""
    since = max(time.time() - limit_value(LimitName.OOM_BREAKER_WINDOW), switch_on_since(SwitchName.VOICE_CLONING))
    client = get_redis_connection("default")
    client.zremrangebyscore(_key(), 0, time.time() - limit_value(LimitName.OOM_BREAKER_WINDOW))
    return int(client.zcount(_key(), f"({since}", "+inf"))


def oom_record(*, detail: str = "") -> bool:
    """Count one CUDA OOM; trip the breaker (switch cloning off) at the threshold. Returns whether it tripped."""
    counter_inc("odiadev_gpu_oom")
    now = time.time()
    client = get_redis_connection("default")
    client.zadd(_key(), {f"{now}:{uuid.uuid4().hex}": now})
    client.expire(_key(), int(limit_value(LimitName.OOM_BREAKER_WINDOW)) + 60)
    count = oom_count()
    if count < limit_value(LimitName.OOM_BREAKER_THRESHOLD) or not switch_is_on(SwitchName.VOICE_CLONING):
        return False
    switch_set(
        name=SwitchName.VOICE_CLONING,
        enabled=False,
        reason=(
            f"OOM breaker: {count} CUDA out-of-memory errors within {limit_value(LimitName.OOM_BREAKER_WINDOW)} s"
            + (f" (last: {detail})" if detail else "")
            + ". Turn voice_cloning back on in the admin to reset."
        ),
        actor="oom-breaker",
    )
    return True


def oom_reset() -> int:
    """Forget the counted OOMs (the window starts empty). Returns how many were forgotten."""
    client = get_redis_connection("default")
    forgotten = int(client.zcard(_key()))
    client.delete(_key())
    return forgotten
