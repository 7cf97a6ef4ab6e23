# syntax=docker/dockerfile:1
# ODIADEV-TTS CPU worker (Piper; also the housekeeping worker `-Q default` and beat): requirements/worker.txt with
# torch==2.11.0 and torchaudio==2.11.0 as their CPU wheels (PyPI's Linux wheels carry CUDA libraries a CPU
# worker never uses). Build from the repository root:
#   docker build -f deploy/worker.Dockerfile -t odiadev-worker .

# --- builder: a venv with the worker tier's packages, installed as the Makefile does ------------------------------
FROM python:3.11.14-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# A C compiler for the packages that ship only sources (webrtcvad, through resemblyzer).
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/web.txt requirements/worker.txt /tmp/requirements/
# The CPU builds of the pins in requirements/worker.txt first (torch==2.11.0 is satisfied by 2.11.0+cpu), then the
# file itself, which then keeps them.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN python -m pip install --quiet --upgrade pip \
    && python -m pip install --quiet --index-url "$TORCH_INDEX_URL" torch==2.11.0 torchaudio==2.11.0 \
    && python -m pip install --quiet -r /tmp/requirements/worker.txt \
    && python -c "import torch; assert torch.__version__.startswith('2.11.0') and not torch.version.cuda, torch.__version__"

# --- runtime: the venv and the source, a non-root user ------------------------------------------------------------
FROM python:3.11.14-slim-bookworm AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 libsndfile1 \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=odiadev.settings.production \
    WORKER_QUEUES=synth \
    HF_HOME=/app/var/cache/huggingface \
    NUMBA_CACHE_DIR=/app/var/cache/numba \
    MPLCONFIGDIR=/app/var/cache/matplotlib \
    XDG_CACHE_HOME=/app/var/cache
RUN groupadd --system --gid 10001 odiadev \
    && useradd --system --uid 10001 --gid odiadev --home-dir /app --shell /usr/sbin/nologin odiadev
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . /app
RUN install -d -o odiadev -g odiadev /app/var /app/var/cache
USER 10001:10001
# The worker heartbeat of this container in Redis (core/heartbeat.py). Beat and one-shot commands override it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=180s --retries=3 \
    CMD ["python", "deploy/healthcheck.py", "worker"]
# Piper synthesis; the housekeeping worker runs `-Q default` instead (compose.yaml, deploy/k8s).
CMD ["celery", "-A", "odiadev", "worker", "-Q", "synth", "--concurrency", "1", "--loglevel", "INFO", "-n", "worker@%h"]
