"""The S3 stack: moto's S3 server (a real HTTP S3 endpoint, in its own process), one private bucket, and Daphne and
a Celery worker that share no disk: each has its own empty MEDIA_ROOT and both store in the bucket.

It has its own private Redis (broker, cache, channels), so its worker never takes a job of the suite's `stack` and
the other way round. Started once, for this package only, and stopped when its last test is done (the machine has
few cores and the rest of the suite does not need it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import pytest

from odiadev.embedded_redis import start_private_redis
from tests.conftest import Stack
from tests.support.processes import (
    BIN_DIR,
    ROOT,
    database_url,
    free_port,
    start,
    start_web,
    start_worker,
    stop,
    wait_for,
    wait_for_web,
)

BUCKET = "odiadev-media"
REGION = "us-east-1"
ACCESS_KEY = "odiadev-test-key"
SECRET_KEY = "odiadev-test-secret"  # moto takes any key


@dataclass
class MotoS3:
    endpoint_url: str
    log_dir: Path

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def objects(self, prefix: str = "") -> dict[str, int]:
        """Every key in the bucket under `prefix`, with its size."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def env(self) -> dict[str, str]:
        """What a process of ours needs to store in the bucket (settings/base.py's S3 block)."""
        return {
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }


@pytest.fixture(scope="package")
def moto_s3(tmp_path_factory):
    """moto's S3 server on a free port, with the bucket created (private: no ACL, no policy)."""
    port = free_port()
    log_dir = tmp_path_factory.mktemp("moto-logs")
    server = MotoS3(endpoint_url=f"http://127.0.0.1:{port}", log_dir=log_dir)
    proc = start("moto", [str(BIN_DIR / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], dict(os.environ), log_dir)
    logs = Stack(base_url=server.endpoint_url, ws_url="", log_dir=log_dir).logs
    try:
        wait_for(
            lambda: httpx.get(f"{server.endpoint_url}/moto-api/", timeout=1).status_code < 500, 30, "moto", [proc], logs
        )
        server.client().create_bucket(Bucket=BUCKET)
        yield server
    finally:
        stop(proc)


@dataclass
class S3Stack(Stack):
    s3: MotoS3 = None
    env: dict = field(default_factory=dict)
    media_roots: dict[str, Path] = field(default_factory=dict)

    def local_files(self) -> list[str]:
        """Files in any of the stack's media folders (there should be none: everything goes to the bucket)."""
        return sorted(str(p) for root in self.media_roots.values() for p in root.rglob("*") if p.is_file())

    def manage(self, *args: str, media_root: Path, timeout: float = 120) -> subprocess.CompletedProcess:
        """`manage.py ARGS` as a third host would run it: the stack's settings, its own media folder."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, "MEDIA_ROOT": str(media_root)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


# Anything of the outer environment that would point the stack elsewhere than its own Redis, bucket and folders.
_OUTER = ("AWS_", "MEDIA_ROOT", "REDIS_", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "STRIPE_", "CLONING_ENGINE")


@pytest.fixture(scope="package")
def s3_stack(moto_s3, django_db_setup, django_db_blocker, tmp_path_factory):
    from django.db import connection

    port = free_port()
    log_dir = tmp_path_factory.mktemp("s3-stack-logs")
    media_roots = {name: tmp_path_factory.mktemp(f"{name}-media") for name in ("web", "worker", "ops")}
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OUTER)}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "odiadev.settings.test",
            "ODIADEV_TEST_S3": "1",  # settings/test.py: keep the bucket of base.py
            **moto_s3.env(),
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": start_private_redis(),  # stopped when the test process exits
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "WORKER_HEARTBEAT_INTERVAL": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    stack = S3Stack(
        base_url=f"http://127.0.0.1:{port}",
        ws_url=f"ws://127.0.0.1:{port}",
        log_dir=log_dir,
        s3=moto_s3,
        env=env,
        media_roots=media_roots,
    )
    procs = [
        start_web(port, {**env, "MEDIA_ROOT": str(media_roots["web"])}, log_dir),
        start_worker(f"s3-{port}", "synth,default", {**env, "MEDIA_ROOT": str(media_roots["worker"])}, log_dir),
    ]

    def worker_ready() -> bool:
        workers = httpx.get(f"{stack.base_url}/health", timeout=2).json()["checks"]["workers"]
        return workers.get("count", 0) >= 1

    try:
        wait_for_web(stack.base_url, procs, stack.logs)
        # (a worker's heartbeat says `ready` once its engines are loaded and warmed up)
        wait_for(worker_ready, 120, "celery worker", procs, stack.logs)
        yield stack
    finally:
        for proc in procs:
            stop(proc)
