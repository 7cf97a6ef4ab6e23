"""The SDK is tested from its source tree (sdk/python/src), as a user's `pip install ./sdk/python` would import it,
against the live stack (Daphne + Celery worker) started by tests/conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SDK_SRC = Path(__file__).resolve().parents[2] / "sdk" / "python" / "src"
if str(SDK_SRC) not in sys.path:
    sys.path.insert(0, str(SDK_SRC))


@pytest.fixture
def customer_key(stack):
    """A fresh pro customer's API key (pro: cloning and streaming allowed)."""
    from accounts.services import api_key_create
    from billing.services import plan_assign
    from tests.factories import UserFactory

    user = UserFactory()
    plan_assign(user=user, slug="pro")
    return api_key_create(user=user, name="sdk").secret


def run_cli(stack, api_key: str | None, *args: str, cwd: Path | None = None, timeout: float = 120):
    """`odiadev ARGS...` in a child process, configured only by its environment, as a shell user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODIADEV_")}
    env["PYTHONPATH"] = str(SDK_SRC)
    env["ODIADEV_BASE_URL"] = stack.base_url
    if api_key is not None:
        env["ODIADEV_API_KEY"] = api_key
    return subprocess.run(
        [sys.executable, "-m", "odiadev_sdk", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
