"""The web tier never imports engines: loading the URL conf (and the ASGI app) pulls in no torch, onnxruntime,
piper or speech/ module. Checked in a fresh interpreter, since this test process has loaded engines already."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # import every view module
import odiadev.asgi  # HTTP + websocket routing, consumers
from synthesis import services  # what the API calls to submit work
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "onnxruntime", "piper", "speech", "torchaudio"})
print(json.dumps(heavy))
"""


def test_web_process_imports_no_engine_module():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "odiadev.settings.test"}

    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_speech_layer_imports_no_django():
    probe = (
        "import sys, speech.engines.piper, speech.audio; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'odiadev'}))"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_text_layer_imports_neither_django_nor_engines():
    """textnorm runs in the web tier (the spoken text decides the cache key before a job is queued)."""
    probe = (
        "import sys, textnorm; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'django', 'odiadev', 'speech', 'torch', 'onnxruntime', 'piper'}))"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
