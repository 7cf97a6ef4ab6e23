"""`python -m odiadev.web`: several Daphne processes serve one listening socket, and a dead one is started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from accounts.services import api_key_create, api_key_revoke
from tests.e2e.helpers import bearer, open_socket
from tests.factories import UserFactory
from tests.support.processes import ROOT, database_url, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@dataclass
class Web:
    base_url: str
    ws_url: str


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:"):
            inodes.add(target)
    return inodes


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return sorted(found)


def _wait(predicate, what: str, proc: subprocess.Popen, log: Path, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the launcher exited with {proc.returncode}\n{log.read_text()[-4000:]}"
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} after {timeout}s\n{log.read_text()[-4000:]}")


def _all_served(web: Web, secret: str, count: int = 10) -> bool:
    url = f"{web.base_url}/v1/voices"
    codes = [httpx.get(url, headers=bearer(secret), timeout=60).status_code for _ in range(count)]
    assert codes == [200] * count, codes
    return True


def _served_by_alone(pid: int, others: list[int], web: Web, secret: str) -> bool:
    """Every request is answered while the other children are stopped (SIGSTOP), so `pid` answered them all."""
    for other in others:
        os.kill(other, signal.SIGSTOP)
    try:
        return _all_served(web, secret)
    finally:
        for other in others:
            os.kill(other, signal.SIGCONT)


@pytest.fixture
def launcher(django_db_setup, tmp_path):
    from django.db import connection

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "odiadev.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
        "WEB_CONCURRENCY": "2",
        "WEB_BACKLOG": "512",
    }
    log = tmp_path / "web.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "odiadev.web", "-b", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    web = Web(base_url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}")
    try:
        yield web, proc, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_two_daphne_processes_serve_one_socket_and_a_killed_one_comes_back(launcher):
    web, proc, log = launcher
    user = UserFactory()
    issued = api_key_create(user=user, name="web")
    secret = issued.secret

    # given the launcher with WEB_CONCURRENCY=2: two Daphne children, each holding the launcher's listening socket
    _wait(lambda: httpx.get(f"{web.base_url}/health/live", timeout=2).status_code == 200, "not serving", proc, log)
    first, second = _wait(lambda: len(_children(proc.pid)) == 2 and _children(proc.pid), "no 2 children", proc, log)
    listening = _socket_inodes(proc.pid)
    assert len(listening) == 1
    assert listening <= _socket_inodes(first)
    assert listening <= _socket_inodes(second)

    # then each of them answers requests: all of them while the other is stopped
    assert _served_by_alone(first, [second], web, secret)
    assert _served_by_alone(second, [first], web, secret)
    with open_socket(web, api_key=secret):
        pass  # a websocket connects and gets its greeting

    # when one child is killed, the other serves every request meanwhile, and the launcher starts a new one
    os.kill(first, signal.SIGKILL)
    assert _all_served(web, secret)
    _wait(lambda: first not in _children(proc.pid) and len(_children(proc.pid)) == 2, "not restarted", proc, log)
    replacement = next(pid for pid in _children(proc.pid) if pid != second)
    assert listening <= _socket_inodes(replacement)

    # then the replacement serves on its own too, websockets included
    assert _served_by_alone(replacement, [second], web, secret)
    os.kill(second, signal.SIGSTOP)
    try:
        with open_socket(web, api_key=secret):
            pass
    finally:
        os.kill(second, signal.SIGCONT)
    assert f"(pid {first}) exited" in log.read_text()

    # and a key revoked here is refused at once by both processes, which had it cached
    api_key_revoke(user=user, key_id=issued.api_key.pk)
    for pid, other in ((replacement, second), (second, replacement)):
        os.kill(other, signal.SIGSTOP)
        try:
            codes = {httpx.get(f"{web.base_url}/v1/voices", headers=bearer(secret), timeout=60).status_code}
        finally:
            os.kill(other, signal.SIGCONT)
        assert codes == {401}, (pid, codes)
