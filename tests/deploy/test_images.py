"""The container images in deploy/ (Docker cannot build or run them on the development and CI machines: their
runtime is refused; see deploy/README.md). What can be checked without a container runtime is checked here: each
Dockerfile's stages, user, health check, requirements and base images; the install steps are the Makefile's; the
health-check script answers for a real heartbeat in Redis and a real HTTP endpoint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
from dockerfile_parse import DockerfileParser

from .support import DEPLOY, ROOT

IMAGES = {
    # image: (the requirements file it installs, the requirements files it must never install)
    "web": ("requirements/web.txt", {"requirements/worker.txt", "requirements/gpu.txt", "requirements/dev.txt"}),
    "worker": ("requirements/worker.txt", {"requirements/gpu.txt", "requirements/dev.txt"}),
    "gpu-worker": ("requirements/gpu.txt", {"requirements/dev.txt"}),
}


def _parse(image: str) -> DockerfileParser:
    parser = DockerfileParser(fileobj=(DEPLOY / f"{image}.Dockerfile").open("rb"))
    return parser


def _final_stage(parser: DockerfileParser) -> list[dict]:
    instructions = parser.structure
    last_from = max(i for i, ins in enumerate(instructions) if ins["instruction"] == "FROM")
    return instructions[last_from:]


@pytest.mark.parametrize("image", IMAGES)
def test_each_image_is_multi_stage_with_pinned_bases(image):
    parser = _parse(image)
    froms = [ins["value"].split() for ins in parser.structure if ins["instruction"] == "FROM"]
    stage_names = {words[2] for words in froms if len(words) == 3 and words[1].upper() == "AS"}
    assert len(froms) >= 2, f"{image}: one stage"
    assert {"builder", "runtime"} <= stage_names
    for words in froms:
        base = words[0]
        assert ":" in base, f"{image}: base image {base} has no tag"
        assert not base.endswith(":latest"), f"{image}: base image {base} is not pinned"
        tag = base.split(":", 1)[1]
        assert re.search(r"\d+\.\d+\.\d+", tag), f"{image}: base image {base} is not pinned to a release"
    # the runtime stage takes the venv the builder made
    final = _final_stage(parser)
    assert any(ins["instruction"] == "COPY" and "--from=builder" in ins["value"] for ins in final)


@pytest.mark.parametrize("image", IMAGES)
def test_each_image_runs_as_a_non_root_user_with_a_health_check(image):
    final = _final_stage(_parse(image))
    users = [ins["value"].strip() for ins in final if ins["instruction"] == "USER"]
    assert users, f"{image}: the final stage runs as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric USER, so Kubernetes' runAsNonRoot can verify it"
    checks = [ins["value"] for ins in final if ins["instruction"] == "HEALTHCHECK"]
    assert len(checks) == 1
    expected = "web" if image == "web" else "worker"
    assert f'"deploy/healthcheck.py", "{expected}"' in checks[0]


@pytest.mark.parametrize("image", IMAGES)
def test_each_image_installs_its_own_requirements_as_the_makefile_does(image):
    wanted, forbidden = IMAGES[image]
    text = (DEPLOY / f"{image}.Dockerfile").read_text()
    runs = " ".join(ins["value"] for ins in _parse(image).structure if ins["instruction"] == "RUN")
    copies = " ".join(ins["value"] for ins in _parse(image).structure if ins["instruction"] == "COPY")
    name = wanted.split("/")[1]
    assert wanted in copies, f"{image}: {wanted} is not copied into the build"
    assert re.search(rf"pip install --quiet -r \S*{re.escape(name)}", runs), f"{image}: {wanted} is not installed"
    for other in forbidden:
        assert other not in text.replace(f"COPY {wanted}", ""), f"{image} mentions {other}"
    # the Makefile's steps: upgrade pip, then `pip install --quiet -r requirements/...`
    makefile = (ROOT / "Makefile").read_text()
    assert "-m pip install --quiet --upgrade pip" in makefile
    assert "-m pip install --quiet --upgrade pip" in runs
    assert "-m pip install --quiet -r requirements/" in makefile


def test_the_web_image_has_no_torch_and_the_cpu_worker_gets_the_cpu_wheel_of_the_pinned_torch():
    web = (DEPLOY / "web.Dockerfile").read_text()
    runs = " ".join(ins["value"] for ins in _parse("web").structure if ins["instruction"] == "RUN")
    assert "torch" not in runs
    assert "worker.txt" not in runs
    assert not re.search(r"^(torch|onnxruntime|piper)", (ROOT / "requirements/web.txt").read_text(), re.MULTILINE)
    assert "collectstatic" in web

    pins = dict(re.findall(r"^(torch|torchaudio)==(\S+)", (ROOT / "requirements/worker.txt").read_text(), re.MULTILINE))
    worker_runs = " ".join(ins["value"] for ins in _parse("worker").structure if ins["instruction"] == "RUN")
    assert f"torch=={pins['torch']}" in worker_runs
    assert f"torchaudio=={pins['torchaudio']}" in worker_runs
    cpu_index = re.search(r"TORCH_INDEX_URL=(\S+)", (DEPLOY / "worker.Dockerfile").read_text()).group(1)
    assert cpu_index.rstrip("/").endswith("/cpu")
    # the CPU wheels go in before the requirements file, which then keeps them
    assert worker_runs.index("--index-url") < worker_runs.index("-r /tmp/requirements/worker.txt")


def test_the_gpu_image_is_cuda_based_and_runs_the_makefiles_gpu_worker():
    parser = _parse("gpu-worker")
    final = _final_stage(parser)
    assert final[0]["value"].startswith("nvidia/cuda:")
    cmd = json.loads(next(ins["value"] for ins in final if ins["instruction"] == "CMD"))
    makefile = (ROOT / "Makefile").read_text()
    for flag in ("--pool", "threads", "--prefetch-multiplier", "1", "-Q"):
        assert flag in makefile
        assert flag in cmd
    assert cmd[cmd.index("-Q") + 1] == "synth_gpu"


def test_the_build_context_leaves_out_the_machines_state_and_secrets():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "var", ".env", "deploy/k8s/base/secrets.env"):
        assert entry in ignored


# --- deploy/healthcheck.py: run as the containers run it ------------------------------------------------------------
def _healthcheck(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, str(DEPLOY / "healthcheck.py"), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_the_worker_check_passes_on_this_hosts_heartbeat_and_readiness_waits_for_ready(settings):
    import socket

    from django_redis import get_redis_connection

    # given a heartbeat of a worker on this host, still warming up, as core/heartbeat.py writes it
    from core.heartbeat import _prefix

    # (a prefix of its own: other stacks on this machine beat under the test prefix)
    prefix = settings.REDIS_KEY_PREFIX = f"odiadev-deploytest-{time.monotonic_ns()}"
    key = f"{_prefix()}{socket.gethostname()}:4242"
    client = get_redis_connection("default")
    client.set(key, json.dumps({"ready": False, "warming": "engines", "queues": ["synth"]}), ex=60)
    env = {"REDIS_URL": settings.REDIS_URL, "REDIS_CACHE_URL": settings.REDIS_URL, "REDIS_KEY_PREFIX": prefix}
    try:
        # then the worker is alive but not ready ...
        assert _healthcheck("worker", env=env).returncode == 0
        warming = _healthcheck("worker", "--ready", env=env)
        assert warming.returncode == 1
        assert "warming up (engines)" in warming.stderr
        # ... ready once its heartbeat says so
        client.set(key, json.dumps({"ready": True, "queues": ["synth"]}), ex=60)
        assert _healthcheck("worker", "--ready", env=env).returncode == 0
        # and a container whose worker stopped beating (the key expired) is unhealthy
        client.delete(key)
        gone = _healthcheck("worker", env=env)
        assert gone.returncode == 1
        assert "no worker heartbeat" in gone.stderr
    finally:
        client.delete(key)


def test_the_worker_heartbeat_key_is_the_one_core_heartbeat_writes(settings):
    from core import heartbeat

    assert heartbeat._prefix() == f"{settings.REDIS_KEY_PREFIX}:workers:"
    assert heartbeat.worker_id().startswith(f"{__import__('socket').gethostname()}:")


def test_the_web_check_asks_health_live_with_a_host_django_allows(httpserver):
    httpserver.expect_request("/health/live", headers={"Host": "localhost"}).respond_with_json({"status": "ok"})
    assert _healthcheck("web", "--port", str(httpserver.port)).returncode == 0
    httpserver.clear()
    httpserver.expect_request("/health/live").respond_with_data("down", status=503)
    failed = _healthcheck("web", "--port", str(httpserver.port))
    assert failed.returncode == 1
    assert "503" in failed.stderr


def test_the_beat_check_wants_a_recently_written_schedule(tmp_path):
    schedule = tmp_path / "celerybeat-schedule"
    assert _healthcheck("beat", "--schedule", str(schedule)).returncode == 1
    (tmp_path / "celerybeat-schedule.db").write_bytes(b"x")
    assert _healthcheck("beat", "--schedule", str(schedule)).returncode == 0
    old = time.time() - 3600
    import os

    os.utime(tmp_path / "celerybeat-schedule.db", (old, old))
    assert _healthcheck("beat", "--schedule", str(schedule), "--max-age", "600").returncode == 1


def test_the_web_images_collectstatic_step_runs_as_written(tmp_path):
    # the RUN line of the web image's builder, run here natively (the same venv packages as requirements/web.txt)
    import os
    import shlex

    run = next(
        ins["value"]
        for ins in _parse("web").structure
        if ins["instruction"] == "RUN" and "collectstatic" in ins["value"]
    )
    words = shlex.split(run)
    env = dict(word.split("=", 1) for word in words if re.fullmatch(r"[A-Z_]+=.*", word))
    command = [word for word in words if not re.fullmatch(r"[A-Z_]+=.*", word)]
    assert command[:2] == ["python", "manage.py"]
    env["STATIC_ROOT"] = str(tmp_path / "staticfiles")
    result = subprocess.run(
        [sys.executable, *command[1:]], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "staticfiles" / "staticfiles.json").read_text())
    assert any(name.startswith("vendor/uplot") for name in manifest["paths"])
