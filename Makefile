# ODIADEV-TTS — `make run` starts everything on one machine; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
EMBEDDED_REDIS_PORT ?= 6379

.PHONY: run install migrate demo test lint format check-deploy bench clean gpu-worker schemathesis

$(VENV)/.installed: requirements/web.txt requirements/worker.txt requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	@$(PY) manage.py ensure_demo

# Starts the embedded Redis (unless REDIS_URL is set), the web tier (WEB_CONCURRENCY Daphne processes on one socket,
# HTTP + websockets; default: one per core), a Celery worker and beat. Ctrl-C stops them all.
run: demo
	@mkdir -p var
	@echo "ODIADEV-TTS: open http://127.0.0.1:$(PORT)/  (API docs: http://127.0.0.1:$(PORT)/v1/docs)"
	@if [ -n "$$REDIS_URL" ]; then \
		WEB_PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile; \
	else \
		REDIS_URL=redis://127.0.0.1:$(EMBEDDED_REDIS_PORT)/0 EMBEDDED_REDIS_PORT=$(EMBEDDED_REDIS_PORT) \
		WEB_PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile.embedded; \
	fi

# One GPU worker (one per GPU): Dia, its jobs batched across task threads (docs/scaling.md "GPU serving"). Needs
# requirements/gpu.txt, the Dia weights (DIA_MODEL_ID, a pinned DIA_MODEL_REV) and REDIS_URL/DATABASE_URL of the
# deployment; the web processes need CLONING_ENGINE=dia too. Concurrency: about twice DIA_MAX_BATCH.
GPU_CONCURRENCY ?= 16
gpu-worker: install
	CLONING_ENGINE=dia SPEECH_WARM_ENGINES=dia $(VENV)/bin/celery -A odiadev worker -Q $${DIA_QUEUE:-synth_gpu} --pool threads \
	  --concurrency $(GPU_CONCURRENCY) --prefetch-multiplier 1 --loglevel INFO -n gpu@%h

# The whole suite. pytest exits 5 when it collects no test, which fails this target like any other failure.
test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Schema fuzzing (tests/test_schemathesis.py): schemathesis, pinned in requirements/schemathesis.txt, in its own venv so
# it never changes the app's packages; it runs against the real stack (Daphne + a Celery worker) and fails on any 5xx,
# undocumented status or response that does not match the schema. SCHEMATHESIS_MAX_EXAMPLES bounds it (default 20).
SCHEMATHESIS_VENV := .venv-schemathesis
$(SCHEMATHESIS_VENV)/.installed: requirements/schemathesis.txt
	test -x $(SCHEMATHESIS_VENV)/bin/python || $(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/python -m pip install --quiet -r requirements/schemathesis.txt
	touch $@

schemathesis: install $(SCHEMATHESIS_VENV)/.installed
	SCHEMATHESIS_BIN=$(CURDIR)/$(SCHEMATHESIS_VENV)/bin/schemathesis $(VENV)/bin/pytest tests/test_schemathesis.py $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=odiadev.settings.production \
	  DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-check-deploy-only-$$(head -c 32 /dev/urandom | base64 | tr -dc A-Za-z0-9)} \
	  $(PY) manage.py check --deploy --fail-level WARNING

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) bench/synth_latency.py $(BENCH_ARGS)

clean:
	rm -rf var/test-db.sqlite3* var/test-media .pytest_cache
