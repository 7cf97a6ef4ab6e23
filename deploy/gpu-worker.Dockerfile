# syntax=docker/dockerfile:1
# ODIADEV-TTS GPU worker: Dia on CUDA, one process per GPU (README "GPU serving"), requirements/gpu.txt (worker.txt
# with PyPI's CUDA 13.0 torch==2.11.0 wheels, which bring their CUDA libraries; the host brings the driver through
# the NVIDIA container toolkit). Python 3.11 comes from the official Python image (the CUDA images' Ubuntu has
# another Python). Build from the repository root:
#   docker build -f deploy/gpu-worker.Dockerfile -t odiadev-gpu-worker .

FROM python:3.11.14-slim-bookworm AS python

# --- builder: a venv with the GPU worker's packages, installed as the Makefile does -------------------------------
FROM nvidia/cuda:13.0.1-base-ubuntu24.04 AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends build-essential ca-certificates \
    libssl3t64 libffi8 libsqlite3-0 libbz2-1.0 liblzma5 zlib1g libexpat1 libncursesw6 libreadline8t64 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=python /usr/local /usr/local
RUN ldconfig && python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/web.txt requirements/worker.txt requirements/gpu.txt /tmp/requirements/
RUN python -m pip install --quiet --upgrade pip \
    && python -m pip install --quiet -r /tmp/requirements/gpu.txt

# --- runtime ------------------------------------------------------------------------------------------------------
FROM nvidia/cuda:13.0.1-base-ubuntu24.04 AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# gcc and libc headers: Triton (torch.compile's CUDA backend) builds a small C launcher at run time.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \
    libssl3t64 libffi8 libsqlite3-0 libbz2-1.0 liblzma5 zlib1g libexpat1 libncursesw6 libreadline8t64 \
    libgomp1 libsndfile1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=python /usr/local /usr/local
RUN ldconfig
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=odiadev.settings.production \
    CLONING_ENGINE=dia \
    SPEECH_WARM_ENGINES=dia \
    WORKER_QUEUES=synth_gpu \
    HF_HOME=/app/var/cache/huggingface \
    NUMBA_CACHE_DIR=/app/var/cache/numba \
    MPLCONFIGDIR=/app/var/cache/matplotlib \
    XDG_CACHE_HOME=/app/var/cache \
    DIA_COMPILE_CACHE_DIR=/app/var/dia-compile-cache
RUN groupadd --system --gid 10001 odiadev \
    && useradd --system --uid 10001 --gid odiadev --home-dir /app --shell /usr/sbin/nologin odiadev
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . /app
RUN install -d -o odiadev -g odiadev /app/var /app/var/cache /app/var/dia-compile-cache
USER 10001:10001
# The worker heartbeat of this container in Redis; loading Dia and compiling its buckets (DIA_WARMUP_BUDGET_S) comes
# first, hence the long start period.
HEALTHCHECK --interval=30s --timeout=10s --start-period=600s --retries=3 \
    CMD ["python", "deploy/healthcheck.py", "worker"]
# As `make gpu-worker`: threads pool, concurrency about twice DIA_MAX_BATCH, prefetch 1.
CMD ["celery", "-A", "odiadev", "worker", "-Q", "synth_gpu", "--pool", "threads", "--concurrency", "16", "--prefetch-multiplier", "1", "--loglevel", "INFO", "-n", "gpu@%h"]
