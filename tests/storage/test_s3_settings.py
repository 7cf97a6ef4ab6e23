"""The S3 settings: with AWS_STORAGE_BUCKET_NAME set, production stores in that bucket with private objects,
pre-signed URLs and no silent overwrite; what it stores is refused to an unsigned GET and served to a signed one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import httpx

from tests.support.processes import ROOT

from .conftest import BUCKET

# Runs in a fresh process: settings are read once, from the environment, when Django starts.
PROBE = """
import json, django
django.setup()
from django.core.files.base import ContentFile
from django.core.files.storage import storages
s = storages["default"]
name = s.save("audio/{key}.wav", ContentFile(b"RIFF-probe"))
again = s.save("audio/{key}.wav", ContentFile(b"RIFF-second"))
print(json.dumps({{
    "backend": type(s).__module__ + "." + type(s).__name__,
    "bucket": s.bucket_name, "endpoint": s.endpoint_url, "region": s.region_name,
    "default_acl": s.default_acl, "querystring_auth": s.querystring_auth, "file_overwrite": s.file_overwrite,
    "name": name, "again": again, "url": s.url(name),
}}))
"""


def _probe(env: dict[str, str]) -> dict:
    key = uuid.uuid4().hex
    outer = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DJANGO_SETTINGS_MODULE"))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(key=key)],
        cwd=ROOT,
        env={**outer, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_store_privately_in_the_named_bucket(moto_s3):
    report = _probe(
        {
            **moto_s3.env(),
            "DJANGO_SETTINGS_MODULE": "odiadev.settings.production",
            "DJANGO_SECRET_KEY": "s3-settings-test-" + "x" * 50,
        }
    )

    assert report["backend"] == "storages.backends.s3.S3Storage"
    assert (report["bucket"], report["endpoint"], report["region"]) == (BUCKET, moto_s3.endpoint_url, "us-east-1")
    assert report["default_acl"] is None  # no ACL header: buckets with ACLs disabled refuse even "private"
    assert report["querystring_auth"] is True
    assert report["file_overwrite"] is False
    # A second file under a taken name gets its own key; the first is untouched.
    assert report["again"] != report["name"]
    assert moto_s3.read(report["name"]) == b"RIFF-probe"
    assert moto_s3.read(report["again"]) == b"RIFF-second"

    direct = f"{moto_s3.endpoint_url}/{BUCKET}/{report['name']}"
    assert httpx.get(direct).status_code == 403  # no public ACL: an unsigned GET is refused
    assert "Signature" in report["url"]
    signed = httpx.get(report["url"])
    assert signed.status_code == 200
    assert signed.content == b"RIFF-probe"
