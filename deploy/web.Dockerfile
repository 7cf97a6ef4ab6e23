# syntax=docker/dockerfile:1
# ODIADEV-TTS web tier: Daphne (HTTP + websockets) through `python -m odiadev.web`. requirements/web.txt only:
# no torch, onnxruntime or speech engines (README "Scale out"). Build from the repository root:
#   docker build -f deploy/web.Dockerfile -t odiadev-web .

# --- builder: a venv with the web tier's packages, installed as the Makefile does --------------------------------
FROM python:3.11.14-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/web.txt /tmp/requirements/web.txt
RUN python -m pip install --quiet --upgrade pip \
    && python -m pip install --quiet -r /tmp/requirements/web.txt
WORKDIR /app
COPY . /app
# Static files at build time (production serves them with WhiteNoise from STATIC_ROOT; the key is a throwaway).
RUN DJANGO_SETTINGS_MODULE=odiadev.settings.production DJANGO_SECRET_KEY=collectstatic-only-not-a-secret \
    STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput --verbosity 0

# --- runtime: the venv and the source, a non-root user ------------------------------------------------------------
FROM python:3.11.14-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=odiadev.settings.production \
    STATIC_ROOT=/app/staticfiles \
    WEB_PORT=8000
RUN groupadd --system --gid 10001 odiadev \
    && useradd --system --uid 10001 --gid odiadev --home-dir /app --shell /usr/sbin/nologin odiadev
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
RUN install -d -o odiadev -g odiadev /app/var
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "deploy/healthcheck.py", "web"]
CMD ["python", "-m", "odiadev.web", "-b", "0.0.0.0", "-p", "8000"]
