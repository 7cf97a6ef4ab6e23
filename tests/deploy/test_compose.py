"""deploy/compose.yaml against the Compose Specification's JSON schema (vendored from compose-spec/compose-spec,
schema/compose-spec.json), and what the runbook relies on: every service, the order they start in, the GPU worker
behind its profile, and only settings .env.example documents."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from .support import DEPLOY, SCHEMAS, env_example_names


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _app_services(compose: dict) -> dict[str, dict]:
    """The services that run our images."""
    return {name: svc for name, svc in compose["services"].items() if svc.get("image", "").startswith("odiadev-")}


def _validate(document: dict) -> None:
    # (the schema names draft-07 by an address jsonschema does not know; it is draft-07)
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(document)


def test_compose_file_is_valid_against_the_compose_specification(compose):
    _validate(compose)


def test_an_invalid_compose_file_is_refused_by_the_same_check(compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["restart"] = ["always"]
    with pytest.raises(jsonschema.ValidationError):
        _validate(broken)


def test_compose_runs_every_process_of_the_product(compose):
    services = compose["services"]
    assert {"postgres", "redis", "minio", "bucket", "migrate", "web", "worker", "housekeeping", "beat"} <= set(services)
    assert services["web"]["build"]["dockerfile"] == "deploy/web.Dockerfile"
    assert services["worker"]["command"][services["worker"]["command"].index("-Q") + 1] == "synth"
    assert services["housekeeping"]["command"][services["housekeeping"]["command"].index("-Q") + 1] == "default"
    assert "beat" in services["beat"]["command"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"


def test_app_containers_start_after_migrations_and_healthy_backing_services(compose):
    for name in ("web", "worker", "housekeeping", "beat"):
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert compose["services"]["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_gpu_worker_runs_only_with_the_gpu_profile_on_an_nvidia_gpu(compose):
    services = compose["services"]
    assert services["gpu-worker"]["profiles"] == ["gpu"]
    assert all("profiles" not in svc for name, svc in services.items() if name != "gpu-worker")
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    command = services["gpu-worker"]["command"]
    assert command[command.index("-Q") + 1] == "synth_gpu"
    assert "threads" in command
    assert services["gpu-worker"]["environment"]["CLONING_ENGINE"] == "dia"


def test_every_setting_compose_gives_the_app_is_documented_in_env_example(compose):
    documented = env_example_names()
    for name, service in _app_services(compose).items():
        undocumented = set(service.get("environment", {})) - documented
        assert not undocumented, f"{name} sets {sorted(undocumented)}, which .env.example does not document"
    # production settings, and localhost among the allowed hosts for the containers' own health checks
    web = compose["services"]["web"]["environment"]
    assert web["DJANGO_SETTINGS_MODULE"] == "odiadev.settings.production"
    assert "localhost" in web["DJANGO_ALLOWED_HOSTS"]


def test_the_cpu_workers_do_not_load_dia_when_cloning_is_on(compose):
    # CLONING_ENGINE=dia adds Dia to the engines a worker warms unless SPEECH_WARM_ENGINES says otherwise
    for name in ("worker", "housekeeping"):
        assert compose["services"][name]["environment"].get("SPEECH_WARM_ENGINES") == "piper", name


def test_each_image_is_built_by_one_service_from_its_dockerfile(compose):
    builders: dict[str, list[str]] = {}
    for name, service in _app_services(compose).items():
        if "build" in service:
            builders.setdefault(service["image"], []).append(name)
            assert (
                service["build"]["dockerfile"]
                == f"deploy/{service['image'].split(':')[0][len('odiadev-') :]}.Dockerfile"
            )
    images = {service["image"] for service in _app_services(compose).values()}
    assert {image: len(names) for image, names in builders.items()} == dict.fromkeys(images, 1)
