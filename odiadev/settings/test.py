"""Test settings: real Redis (a private server started here unless REDIS_URL is given) and a file database.

The test database must be a file (not SQLite's in-memory default) because the suite starts real Daphne and Celery
worker processes that read and write the same rows as the test process.
"""

import os

from odiadev.embedded_redis import start_private_redis

# No model may be fetched from a hub during tests: the engine and encoder tests build tiny models locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

if not os.environ.get("REDIS_URL"):
    # Child processes (worker, web server) inherit the address through the environment.
    os.environ["REDIS_URL"] = start_private_redis()

from .base import *  # noqa: F403
from .base import DATABASES, VAR_DIR

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
# dj-stripe's tables in one step instead of its migrations (a minute of CPU on every test database): see
# tests/djstripe_tables. Our own apps' migrations build the rest, as in a deployment.
MIGRATION_MODULES = {"djstripe": "tests.djstripe_tables"}

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The suite stores on a local folder even where a .env names a bucket. Only the processes of the S3 test stack
# (tests/storage/conftest.py sets ODIADEV_TEST_S3=1) keep base.py's storage: its bucket, and their own MEDIA_ROOT.
if not os.environ.get("ODIADEV_TEST_S3"):
    MEDIA_ROOT = VAR_DIR / "test-media"
    STORAGES["default"] = {  # noqa: F405
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
REDIS_KEY_PREFIX = "odiadev-test"
CACHES["default"]["KEY_PREFIX"] = REDIS_KEY_PREFIX  # noqa: F405
TTS_WAIT_TIMEOUT = 20.0
# Built-in jobs are scored only where a test asks (a sampled job would put a scoring task between two e2e jobs on the
# stack's one worker, by chance); cloned jobs always are.
INTELLIGIBILITY_BUILTIN_SHARE = float(os.environ.get("INTELLIGIBILITY_BUILTIN_SHARE", "0"))
