"""The multi-host cluster (docs/multihost.md): four hosts in network namespaces on one bridge, and the client (this
test process) in the root namespace.

    data      10.77.0.2  PostgreSQL (its own cluster, initdb'd under /tmp), Redis, moto's S3 server
    web       10.77.0.3  Daphne, and the jobs sweep (beat's task, every 2 s instead of every minute)
    worker-a  10.77.0.4  a Celery worker, its own empty media folder
    worker-b  10.77.0.5  a Celery worker, its own empty media folder
    client    10.77.0.1  the bridge's address in the root namespace

No host shares a disk with another for the app: audio goes to the bucket on `data`. Built once for the module, torn
down (processes, namespaces, links, folders) whatever happens; a run also removes what an interrupted one left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import psycopg
import pytest

from odiadev.embedded_redis import redis_server_binary
from tests.support.processes import ROOT, wait_for

from . import hosts

BUCKET = "odiadev-media"
REGION = "us-east-1"
PG_PORT = 5432
REDIS_PORT = 6379
S3_PORT = 9000
WEB_PORT = 8000
METRICS_TOKEN = "multihost-scraper-token"
# Anything of the outer environment that would point the cluster's processes elsewhere than its own data host.
_OUTER = (
    "AWS_",
    "MEDIA_ROOT",
    "REDIS_",
    "CELERY_",
    "DATABASE_",
    "STRIPE_",
    "CLONING_ENGINE",
    "PUBLIC_BASE_URL",
    "DJANGO_",
)


def _postgres_bin() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


@dataclass
class Cluster:
    network: hosts.Network
    env: dict
    log_dir: Path
    media_roots: dict[str, Path]
    base_url: str
    ws_url: str
    database_url: str
    secrets: list[str] = field(default_factory=list)

    @property
    def hosts(self) -> dict[str, hosts.Host]:
        return self.network.hosts

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-tail:]}" for p in sorted(self.log_dir.glob("*.log")))

    def s3(self):
        return boto3.client(
            "s3",
            endpoint_url=f"http://{self.hosts['data'].address}:{S3_PORT}",
            region_name=REGION,
            aws_access_key_id="multihost",
            aws_secret_access_key="multihost",  # moto takes any key
        )

    def s3_keys(self, prefix: str) -> set[str]:
        pages = self.s3().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def local_files(self) -> list[str]:
        return sorted(str(p) for root in self.media_roots.values() for p in root.rglob("*") if p.is_file())

    def sql(self, query: str, params=()) -> list[tuple]:
        """A read of the cluster's database from the client (what the suite's ledger checks read)."""
        with psycopg.connect(self.database_url, connect_timeout=5) as connection:
            return connection.execute(query, params).fetchall()

    def ready_workers(self) -> int:
        """Workers whose heartbeat (in Redis on `data`) says they serve, as the web host's /health counts them."""
        response = httpx.get(f"{self.base_url}/health", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5)
        return response.json()["checks"]["workers"].get("count", 0)

    def customers(self, count: int, plan: str = "business") -> list[str]:
        """New customers on `plan`, created on the web host (its Django and the cluster's database): their keys."""
        result = self.hosts["web"].run(
            [sys.executable, "-m", "tests.multihost.probe", str(count), plan],
            env={**self.env, "MEDIA_ROOT": str(self.media_roots["web"])},
            cwd=ROOT,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])


def _note(log_dir: Path, message: str) -> None:
    """A line in the client's log (client.log, shown with the hosts' logs when something fails)."""
    with (log_dir / "client.log").open("a") as log:
        log.write(f"{time.strftime('%H:%M:%S')} {message}\n")


def _start_data_host(network: hosts.Network, data: hosts.Host, log_dir: Path, logs) -> str:
    """PostgreSQL, Redis and moto's S3 server on `data`; the database URL."""
    pg_bin = _postgres_bin()
    pg_data, pg_socket = network.tmp / "pg", network.tmp / "pg-socket"
    for folder in (pg_data, pg_socket):
        folder.mkdir()
        shutil.chown(folder, "postgres", "postgres")
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(pg_bin / "initdb"),
            "-D",
            str(pg_data),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
        check=True,
        capture_output=True,
        cwd=hosts.TMP,
    )
    with (pg_data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {hosts.SUBNET}.0/24 trust\n")
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    procs = [
        data.start(
            "postgres",
            [
                *("runuser", "-u", "postgres", "--", str(pg_bin / "postgres"), "-D", str(pg_data)),
                *("-c", f"listen_addresses={data.address}", "-p", str(PG_PORT), "-k", str(pg_socket)),
                *("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
                *("-c", "max_connections=300"),
            ],
            env=env,
            log_dir=log_dir,
            cwd=hosts.TMP,
        ),
        data.start(
            "redis",
            [
                *(redis_server_binary(), "--bind", data.address, "--port", str(REDIS_PORT)),
                *("--save", "", "--appendonly", "no", "--protected-mode", "no"),
            ],
            env=env,
            log_dir=log_dir,
            cwd=network.tmp,
        ),
        data.start(
            "s3",
            [str(Path(sys.executable).parent / "moto_server"), "-H", data.address, "-p", str(S3_PORT)],
            env=dict(os.environ),
            log_dir=log_dir,
            cwd=network.tmp,
        ),
    ]
    admin = f"postgres://postgres@{data.address}:{PG_PORT}/postgres"

    def postgres_up() -> bool:
        with psycopg.connect(admin, connect_timeout=2) as connection:
            return connection.execute("SELECT 1").fetchone() == (1,)

    wait_for(postgres_up, 60, "postgres on data", procs, logs)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute("CREATE DATABASE odiadev")
    s3_url = f"http://{data.address}:{S3_PORT}"
    wait_for(lambda: httpx.get(f"{s3_url}/moto-api/", timeout=1).status_code < 500, 60, "S3 on data", procs, logs)
    return f"postgres://postgres@{data.address}:{PG_PORT}/odiadev"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = hosts.available()
    if why:
        pytest.skip(why)
    if _postgres_bin() is None:
        pytest.skip("the multi-host test needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)")
    log_dir = tmp_path_factory.mktemp("multihost-logs")
    network = hosts.Network()
    try:
        data = network.add("data", 2)
        web = network.add("web", 3)
        network.add("worker-a", 4)
        network.add("worker-b", 5)
        media_roots = {name: network.tmp / f"media-{name}" for name in ("web", "worker-a", "worker-b")}
        for folder in media_roots.values():
            folder.mkdir()

        cluster = None

        def logs() -> str:
            return cluster.logs() if cluster else "\n".join(p.read_text()[-3000:] for p in log_dir.glob("*.log"))

        _note(log_dir, "hosts built")
        database_url = _start_data_host(network, data, log_dir, logs)
        _note(log_dir, "data host up")
        env = {key: value for key, value in os.environ.items() if not key.startswith(_OUTER)}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "odiadev.settings.test",
                "ODIADEV_TEST_S3": "1",  # settings/test.py: keep base.py's bucket storage
                "AWS_STORAGE_BUCKET_NAME": BUCKET,
                "AWS_S3_ENDPOINT_URL": f"http://{data.address}:{S3_PORT}",
                "AWS_S3_REGION_NAME": REGION,
                "AWS_ACCESS_KEY_ID": "multihost",
                "AWS_SECRET_ACCESS_KEY": "multihost",
                "DATABASE_URL": database_url,
                "REDIS_URL": f"redis://{data.address}:{REDIS_PORT}/0",
                "PUBLIC_BASE_URL": f"http://{web.address}:{WEB_PORT}",
                "DJANGO_ALLOWED_HOSTS": f"{web.address},localhost,127.0.0.1",
                "WORKER_HEARTBEAT_INTERVAL": "2",  # a worker is taken for gone 6 s after its last heartbeat
                "METRICS_TOKEN": METRICS_TOKEN,  # the detailed /health, for the client's readiness checks
                "PYTHONUNBUFFERED": "1",
            }
        )
        cluster = Cluster(
            network=network,
            env=env,
            log_dir=log_dir,
            media_roots=media_roots,
            base_url=f"http://{web.address}:{WEB_PORT}",
            ws_url=f"ws://{web.address}:{WEB_PORT}",
            database_url=database_url,
        )
        cluster.s3().create_bucket(Bucket=BUCKET)  # private: no ACL, no policy
        schema = web.run([sys.executable, "-m", "tests.multihost.schema"], env=env, cwd=ROOT, timeout=300)
        assert schema.returncode == 0, schema.stdout + schema.stderr
        _note(log_dir, "tables created")

        bin_dir = Path(sys.executable).parent
        procs = [
            web.start(
                "daphne",
                [str(bin_dir / "daphne"), "-b", web.address, "-p", str(WEB_PORT), "odiadev.asgi:application"],
                env={**env, "MEDIA_ROOT": str(media_roots["web"])},
                log_dir=log_dir,
                cwd=ROOT,
            ),
            web.start(
                "sweeper",
                [sys.executable, "-m", "tests.multihost.sweeper"],
                env={**env, "MEDIA_ROOT": str(media_roots["web"])},
                log_dir=log_dir,
                cwd=ROOT,
            ),
        ]
        for name in ("worker-a", "worker-b"):
            procs.append(
                cluster.hosts[name].start(
                    "celery",
                    [
                        *(str(bin_dir / "celery"), "-A", "odiadev", "worker", "-Q", "synth,default"),
                        *("--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle"),
                        *("-n", f"{name}@%h"),
                    ],
                    env={**env, "MEDIA_ROOT": str(media_roots[name])},
                    log_dir=log_dir,
                    cwd=ROOT,
                )
            )
        wait_for(
            lambda: httpx.get(f"{cluster.base_url}/health/live", timeout=2).status_code == 200,
            60,
            "daphne on web",
            procs,
            logs,
        )

        def workers_ready() -> bool:
            return cluster.ready_workers() >= 2

        _note(log_dir, "web up")
        wait_for(workers_ready, 180, "both workers", procs, logs)
        _note(log_dir, "workers ready")
        cluster.secrets = cluster.customers(8)
        _note(log_dir, "customers created")
        yield cluster
    finally:
        network.close()
