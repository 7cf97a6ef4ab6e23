"""Settings shared by every process; each value comes from the environment with a safe embedded default.

This module holds the framework's settings (Django, databases, caches, Celery, Channels, storage, the API); the
product's own (speech, cloning, synthesis, billing, ops, abuse) are in `product.py`, imported at the end.

The embedded default (no environment at all) is one machine: SQLite, a local media folder and a Redis on
127.0.0.1:6379 that `make run` starts itself. `.env.example` documents every variable.
"""

from pathlib import Path
from urllib.parse import urlsplit

from celery.schedules import crontab
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from .environment import BASE_DIR, VAR_DIR, env

# ------------------------------------------------------------------------------------------------------------
# CORE
# ------------------------------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="embedded-mode-insecure-key-change-me-for-any-real-deployment")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# The base URL customers use to reach the API; shown in the docs and used for links sent outside a request.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
VERSION = "0.1.0"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_prometheus",
    "djstripe",
    # Accounts' second factor (TOTP devices); see accounts/mfa.py.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "controls",
    "accounts",
    "voices",
    "synthesis",
    "billing",
    # Before ops, whose worker start-up hook (the heartbeat) must come after the apps' warm-up hooks.
    "provenance",
    "ops",
    "webhooks",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Browser hardening headers first, so every response carries them (even an early 403 or 429).
    "core.security_headers.ContentSecurityPolicyMiddleware",
    "core.security_headers.PermissionsPolicyMiddleware",
    # A view's wait for a job, on the event loop, holding no thread: here in an async chain (AsyncClient); served by
    # odiadev.asgi, the chain runs sync and the request handler awaits it after the chain (core/request_handler.py).
    "core.deferred.DeferredResponseMiddleware",
    # Early: a blocked address costs no session, CSRF or view work. Also counts requests for abuse detection.
    "controls.middleware.IpBlocklistMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "controls.ratelimit.IpRateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Accounts: whether this session proved a second factor, and the staff pages' demand for one.
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.StaffMfaMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "odiadev.urls"
ASGI_APPLICATION = "odiadev.asgi.application"
WSGI_APPLICATION = "odiadev.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.account_status",
            ],
            # Dashboard template helpers that belong to no app: `{% load when %}` (times in the user's zone).
            "libraries": {"when": "core.templatetags.when"},
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"
# Unset until production: in the embedded mode WhiteNoise serves straight from the app and project folders.
STATIC_ROOT = env("STATIC_ROOT", default=None)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve static files straight from the app folders until `collectstatic` has run (production turns this off).
WHITENOISE_USE_FINDERS = True

# ------------------------------------------------------------------------------------------------------------
# DATABASES
# ------------------------------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share one file: WAL lets readers and a writer work at once; IMMEDIATE takes the write lock
    # up front so writers queue instead of failing mid-transaction; synchronous=NORMAL syncs the log at checkpoints,
    # not at each commit (a killed process loses nothing; a power cut may roll back the last commits: docs/scaling.md).
    sqlite = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    DATABASES["default"].setdefault("OPTIONS", {}).update(init_command=sqlite, transaction_mode="IMMEDIATE", timeout=30)
    # Connections stay open: a web process keeps its request threads (odiadev/request_threads.py), so each kept
    # thread reuses one connection instead of opening the file again for every request (1.6 ms each).
    DATABASES["default"]["CONN_MAX_AGE"] = None
elif env.bool("DATABASE_POOL", default=True):
    # PostgreSQL through psycopg's connection pool, per process. Under ASGI, Django's persistent connections
    # (CONN_MAX_AGE) stay open per worker thread and a burst of requests exhausts the server's connection slots;
    # a pool bounds them (requests wait up to the timeout for a free connection instead of failing).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        "timeout": 30,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# ------------------------------------------------------------------------------------------------------------
# REDIS: one server by default; broker, cache and channel layer can each point elsewhere.
# ------------------------------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_CACHE_URL = env("REDIS_CACHE_URL", default=REDIS_URL)
REDIS_CHANNEL_URL = env("REDIS_CHANNEL_URL", default=REDIS_URL)
# Prefix of every key this app writes through the cache (the broker and the channel layer use their own).
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", default="odiadev")

# ------------------------------------------------------------------------------------------------------------
# CACHES
# ------------------------------------------------------------------------------------------------------------
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 2,
            # A burst that needs more connections than the pool holds waits (up to REDIS_POOL_TIMEOUT) for one to
            # come back instead of failing at once with "Too many connections" (redis-py's pool raises at 100).
            "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
            "CONNECTION_POOL_KWARGS": {
                "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=100),
                "timeout": env.float("REDIS_POOL_TIMEOUT", default=10.0),
            },
        },
    }
}

# ------------------------------------------------------------------------------------------------------------
# CELERY
# ------------------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
# Job state lives in the database; Celery results are kept only for the few tasks the web tier waits on
# (validating an upload), and only briefly.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_RESULT_EXPIRES = 600
CELERY_TASK_DEFAULT_QUEUE = "default"
# Worker start-up in one explicit order (odiadev/worker.py): watermark check, engines, encoder, VAD, watermarker,
# heartbeat. Imported by worker and beat processes only, never by the web tier.
CELERY_IMPORTS = ["odiadev.worker"]
# The queue of provenance checks (a worker that serves it loads PerTh).
PROVENANCE_QUEUE = env("PROVENANCE_QUEUE", default="default")
CELERY_TASK_ROUTES = {
    "synthesis.run_job": {"queue": "synth"},
    "synthesis.score_intelligibility": {"queue": "default"},
    "voices.*": {"queue": "default"},
    "webhooks.*": {"queue": "default"},
    "provenance.*": {"queue": PROVENANCE_QUEUE},
}
# One job at a time per process: a GPU worker must not hoard jobs another worker could start now.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A message not acknowledged within this many seconds is delivered again; longer than any job may run.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Each worker process loads its models when it starts (warm). Celery kills a pool process that has not reported
# up within this many seconds (default 4): far too short for Dia on a GPU, and a killed process is replaced by one
# that is killed again, forever.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env.float("CELERY_WORKER_PROC_ALIVE_TIMEOUT", default=180.0)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-jobs": {"task": "synthesis.sweep_stale_jobs", "schedule": 60.0},
    "purge-idempotency-keys": {"task": "synthesis.purge_idempotency_keys", "schedule": 3600.0},
    "sweep-voice-verifications": {"task": "voices.sweep_verifications", "schedule": 300.0},
    "sweep-stripe-webhooks": {"task": "billing.sweep_stripe_webhooks", "schedule": 300.0},
    "sweep-webhook-deliveries": {"task": "webhooks.sweep_deliveries", "schedule": 60.0},
    # Nightly: local subscription state against Stripe's (a no-op in local mode).
    "rollup-kpis": {"task": "ops.rollup_kpis", "schedule": 60.0},
    "reconcile-subscriptions": {"task": "billing.reconcile_subscriptions", "schedule": crontab(hour=3, minute=17)},
    # Weekly: expire unused voices and old audio, delete orphaned files, keep consent evidence its own time.
    "lifecycle-policy": {
        "task": "ops.lifecycle_policy",
        "schedule": crontab(day_of_week="sun", hour=4, minute=41),
        "options": {"queue": "default"},
    },
    # Accounts whose stored bytes in the last 24 h jumped against their own daily mean.
    "check-storage-growth": {"task": "ops.check_storage_growth", "schedule": crontab(minute=23)},
}

# ------------------------------------------------------------------------------------------------------------
# CHANNELS
# ------------------------------------------------------------------------------------------------------------
# channels-redis waits for a socket's next message with a blocking read of `brpop_timeout` (5 s, fixed in
# channels_redis.core), then loops. redis-py's default socket timeout is also 5 s, so an idle socket's read raced
# it, timed out and closed the socket with 1011: the read timeout must outlast the blocking read.
CHANNEL_LAYER_SOCKET_TIMEOUT = env.float("CHANNEL_LAYER_SOCKET_TIMEOUT", default=15.0)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_CHANNEL_URL,
                    "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                    "socket_connect_timeout": 2,
                    # A pooled connection that died with a restarted Redis fails its next command once: retry it
                    # on a fresh connection (without this the first websocket after a restart got HTTP 500).
                    "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
                    "retry_on_error": [RedisConnectionError],
                    "health_check_interval": 30,
                }
            ],
            "prefix": f"{REDIS_KEY_PREFIX}:asgi",
        },
    }
}

# ------------------------------------------------------------------------------------------------------------
# STORAGES: local media folder by default, S3-compatible when a bucket is named. Audio is never public.
# ------------------------------------------------------------------------------------------------------------
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    # Web and workers then share no disk: every read and write goes through the bucket (docs/storage.md).
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            # Unset or empty: boto3's own defaults (AWS itself) and credential chain (instance or pod role).
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            # No ACL header: objects are private as the bucket is. New AWS buckets have ACLs disabled and answer
            # 400 AccessControlListNotSupported to any ACL header but bucket-owner-full-control ("private" too).
            "default_acl": None,
            # Any URL the storage makes is pre-signed and expires; the API itself streams audio through Django.
            "querystring_auth": True,
            # An existing key is never replaced silently (as on disk): a second file under a taken name gets a
            # suffix. Our names are ids, and the synthesis runner deletes its own earlier attempt first.
            "file_overwrite": False,
            # A file the product reads whole (a recording a worker checks) is buffered in memory up to this size, then
            # in a temporary file. API downloads stream from the bucket instead, only the bytes sent (core/http.py).
            "max_memory_size": 8 * 1024 * 1024,
        },
    }
else:
    # No base_url: the media folder is not served; audio goes out only through the owner-checked endpoint.
    _media_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# ------------------------------------------------------------------------------------------------------------
# REST API
# ------------------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The API key comes first so that an unauthenticated request gets 401 with `WWW-Authenticate: Bearer`.
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["billing.throttling.PlanRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],  # nesting bounded: a too-deep body is 400, not a 500
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",  # adds the error answers (core/schema.py)
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ODIADEV-TTS API",
    "DESCRIPTION": "Text to speech with multi-tenant API keys. Authenticate with `Authorization: Bearer <key>`.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    # Unset, the schema names no server and Swagger UI's "Try it out" calls whatever host and port served the page;
    # set PUBLIC_BASE_URL to name one.
    "SERVERS": [{"url": PUBLIC_BASE_URL}] if env("PUBLIC_BASE_URL", default="") else [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/v1",
}

# ------------------------------------------------------------------------------------------------------------
# BROWSER AND STORAGE HYGIENE: CSP, Permissions-Policy, media file modes, secrets encrypted at rest.
# See docs/security.md "Browser and storage hygiene".
# ------------------------------------------------------------------------------------------------------------
# django-csp (core.security_headers.ContentSecurityPolicyMiddleware). No inline script or style anywhere: pages load
# their code from /static/ (Swagger UI's init script included: SpectacularSwaggerSplitView). `connect-src` also gets
# this host's own ws:/wss: origin per request (the live job socket); `media-src blob:` plays a recording before upload.
# `form-action` is left open on purpose: the billing forms redirect to Stripe Checkout and the Customer Portal.
_public_origin = "{0.scheme}://{0.netloc}".format(urlsplit(PUBLIC_BASE_URL))
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'", "blob:"],
        # The public base URL too: Swagger UI's "Try it out" calls the API at the schema's server address.
        "connect-src": ["'self'", _public_origin],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
}
# Permissions-Policy (core.security_headers.PermissionsPolicyMiddleware): every powerful feature off; a page that
# needs one says so with `@permissions_policy(...)` (the Voices page: microphone=(self), to record consent).
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}
# Media files (consent recordings, voice samples, synthesized audio) readable by the server's user and group only.
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
# Fernet keys (comma-separated) for secrets stored encrypted (webhook signing secrets): the first encrypts, all
# decrypt; `manage.py rotate_field_keys` re-encrypts with the first. Unset: a key derived from SECRET_KEY (and one
# from each SECRET_KEY_FALLBACKS entry), which works but ties the secrets to SECRET_KEY: set your own in production.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# Earlier SECRET_KEYs still accepted (Django's sessions and signatures, and the derived encryption key above).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
# No validator badge: Swagger UI would load an image from validator.swagger.io (and the CSP refuses it).
SPECTACULAR_SETTINGS["SWAGGER_UI_SETTINGS"] = {"deepLinking": True, "validatorUrl": None}

# The product's settings (speech, cloning, synthesis, billing, ops, abuse, webhooks).
from .product import *  # noqa: E402, F403
