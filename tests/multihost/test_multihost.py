"""The platform on separate hosts (network namespaces, see conftest.py and docs/multihost.md): jobs submitted through
the web host spread over two workers that share no disk, their events reach the client's websocket and their audio
downloads from the bucket through the web host; a worker cut off from the network for 30 s, and a worker killed
outright mid-job, lose no job and bill none twice.

The tests run in file order on one cluster: the link cut needs both workers, the kill (last) leaves worker-b alone.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from billing.models import BillingAccount, LedgerEntry
from synthesis.models import SynthesisJob
from tests.e2e.helpers import bearer, open_socket

pytestmark = [pytest.mark.multihost, pytest.mark.e2e]

FINAL = ("succeeded", "failed", "cancelled")
JOBS = SynthesisJob._meta.db_table
LEDGER = LedgerEntry._meta.db_table
ACCOUNTS = BillingAccount._meta.db_table
LONGER = " The quick brown fox jumps over the lazy dog, and the dog does not mind at all." * 3


def _submit(cluster, secret: str, text: str) -> str:
    response = httpx.post(
        f"{cluster.base_url}/v1/tts",
        json={"text": text, "voice_id": "joe", "format": "wav"},
        headers=bearer(secret),
        timeout=60,
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _submit_all(cluster, jobs: list[tuple[str, str]]) -> list[str]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda job: _submit(cluster, *job), jobs))


def _jobs(cluster, ids: list[str]) -> dict[str, dict]:
    """Each job's row and the kinds of its ledger entries, read from the data host's database."""
    rows = cluster.sql(
        f"SELECT j.id::text, j.status, j.worker, j.attempts, "  # noqa: S608 - table names from the models
        f"coalesce(array_agg(l.kind ORDER BY l.kind) FILTER (WHERE l.kind IS NOT NULL), '{{}}') "
        f"FROM {JOBS} j LEFT JOIN {LEDGER} l ON l.job_id = j.id WHERE j.id::text = ANY(%s) GROUP BY j.id",
        (ids,),
    )
    return {row[0]: {"status": row[1], "worker": row[2], "attempts": row[3], "ledger": list(row[4])} for row in rows}


def _host_of(job: dict) -> str:
    return job["worker"].rsplit(":", 1)[0]


def _wait_final(cluster, ids: list[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = _jobs(cluster, ids)
        if all(job["status"] in FINAL for job in jobs.values()):
            return jobs
        time.sleep(0.5)
    pending = {job_id: job for job_id, job in _jobs(cluster, ids).items() if job["status"] not in FINAL}
    raise AssertionError(f"{len(pending)} jobs not final after {timeout}s: {pending}\n{cluster.logs()}")


def _wait_running_on(cluster, ids: list[str], host: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job_id, job in _jobs(cluster, ids).items():
            if job["status"] == "running" and _host_of(job) == host:
                return job_id
        time.sleep(0.1)
    raise AssertionError(f"no job ran on {host} within {timeout}s\n{cluster.logs()}")


def _assert_succeeded_and_billed_once(cluster, jobs: dict[str, dict]) -> None:
    for job_id, job in jobs.items():
        assert job["status"] == "succeeded", (job_id, job, cluster.logs())
        assert job["ledger"] == ["capture", "reserve"], (job_id, job)  # one reservation, captured once
    # Every account's balance is the sum of its ledger (nothing charged or refunded outside it).
    for account_id, balance, total in cluster.sql(
        f"SELECT a.id, a.balance, (SELECT coalesce(sum(l.amount), 0) FROM {LEDGER} l "  # noqa: S608
        f"WHERE l.account_id = a.id) FROM {ACCOUNTS} a"
    ):
        assert balance == total >= 0, (account_id, balance, total)


class _Socket:
    """A customer's websocket on the web host, collecting every message in a thread until closed."""

    def __init__(self, cluster, secret: str):
        self._context = open_socket(cluster, api_key=secret)
        self._ws = self._context.__enter__()
        self.messages: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(json.loads(self._ws.recv(timeout=0.5)))
            except TimeoutError:
                continue
            except ConnectionClosed:
                return

    def final_events(self) -> dict[str, str]:
        return {
            m["job"]["id"]: m["job"]["status"]
            for m in self.messages
            if m.get("type") == "job.updated" and m["job"]["status"] in FINAL
        }

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._context.__exit__(None, None, None)


def test_forty_jobs_through_the_web_host_spread_over_both_workers(cluster):
    customers = cluster.secrets[:4]  # business plan: ten jobs at a time each
    sockets = {secret: _Socket(cluster, secret) for secret in customers}
    try:
        jobs = [
            (secret, f"Host test {c}-{n}: hello from a separate host.")
            for c, secret in enumerate(customers)
            for n in range(10)
        ]
        ids = _submit_all(cluster, jobs)
        owner = {job_id: secret for job_id, (secret, _) in zip(ids, jobs, strict=True)}
        assert len(set(ids)) == 40

        final = _wait_final(cluster, ids, timeout=150)
        deadline = time.monotonic() + 10  # the last events are on their way
        while time.monotonic() < deadline and sum(len(s.final_events()) for s in sockets.values()) < 40:
            time.sleep(0.2)
    finally:
        for socket in sockets.values():
            socket.close()

    _assert_succeeded_and_billed_once(cluster, final)
    ran_on = {job_id: _host_of(job) for job_id, job in final.items()}
    assert set(ran_on.values()) == {"worker-a", "worker-b"}, ran_on  # both workers took jobs
    # Each customer's websocket (on the web host) told it that each of its jobs succeeded.
    for job_id in ids:
        assert sockets[owner[job_id]].final_events().get(job_id) == "succeeded", job_id
    # The audio is in the bucket on the data host, on no host's disk, and downloads through the web host.
    assert {f"audio/{job_id}.wav" for job_id in ids} <= cluster.s3_keys("audio/")
    assert cluster.local_files() == []
    for job_id in ids:
        response = httpx.get(f"{cluster.base_url}/v1/tts/{job_id}/audio", headers=bearer(owner[job_id]), timeout=30)
        assert response.status_code == 200, response.text
        assert response.content[:4] == b"RIFF"
        assert len(response.content) > 1000


def test_cutting_a_workers_link_for_thirty_seconds_loses_nothing(cluster):
    worker_b = cluster.hosts["worker-b"]
    jobs = [(secret, f"Cut link {c}-{n}.{LONGER}") for c, secret in enumerate(cluster.secrets[4:6]) for n in range(6)]
    ids = _submit_all(cluster, jobs)
    cut_job = _wait_running_on(cluster, ids, "worker-b")

    worker_b.link_down()
    try:
        succeeded_at_cut = sum(job["status"] == "succeeded" for job in _jobs(cluster, ids).values())
        time.sleep(30)
        during = _jobs(cluster, ids)
    finally:
        worker_b.link_up()

    # worker-a kept serving while worker-b was away, and took the job worker-b was running once its heartbeat lapsed.
    assert sum(job["status"] == "succeeded" for job in during.values()) > succeeded_at_cut
    final = _wait_final(cluster, ids, timeout=120)
    _assert_succeeded_and_billed_once(cluster, final)
    assert final[cut_job]["attempts"] >= 1
    assert cluster.local_files() == []
    # worker-b is back: its heartbeat reaches Redis again and the web host counts it ready.
    deadline = time.monotonic() + 60
    while cluster.ready_workers() < 2:
        assert time.monotonic() < deadline, f"worker-b did not come back\n{cluster.logs()}"
        time.sleep(0.5)


def test_killing_every_process_of_a_worker_mid_job_leaves_its_jobs_to_the_other(cluster):
    worker_a = cluster.hosts["worker-a"]
    jobs = [(secret, f"Kill host {c}-{n}.{LONGER}") for c, secret in enumerate(cluster.secrets[6:8]) for n in range(5)]
    ids = _submit_all(cluster, jobs)
    killed_job = _wait_running_on(cluster, ids, "worker-a")

    killed = worker_a.kill_all()  # SIGKILL: the celery main process and its pool, mid-synthesis
    assert killed
    deadline = time.monotonic() + 10
    while worker_a.pids():
        assert time.monotonic() < deadline, worker_a.pids()
        time.sleep(0.1)
    pending = [job_id for job_id, job in _jobs(cluster, ids).items() if job["status"] not in FINAL]

    final = _wait_final(cluster, ids, timeout=150)
    _assert_succeeded_and_billed_once(cluster, final)
    assert final[killed_job]["attempts"] >= 2  # run again, after the killed attempt
    assert {_host_of(final[job_id]) for job_id in pending} == {"worker-b"}
    assert cluster.local_files() == []
