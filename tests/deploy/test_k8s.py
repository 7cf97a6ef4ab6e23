"""deploy/k8s rendered with `kubectl kustomize` for both overlays and validated: the built-in kinds against the
Kubernetes schemas bundled in kubernetes-validate, KEDA's ScaledObject and TriggerAuthentication against KEDA's own
CRD schemas (vendored from kedacore/keda, config/crd/bases); then what the runbook relies on."""

from __future__ import annotations

import shutil

import jsonschema
import kubernetes_validate
import pytest
import yaml
from django.conf import settings

from .support import DEPLOY, ROOT, SCHEMAS, env_example_names, env_file_names, render

KUBERNETES_VERSION = "1.32"

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None,
    reason="kubectl is not installed (apt-get install kubernetes-client; .ci/run installs it)",
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, list[dict]]:
    return {overlay: render(overlay, tmp_path_factory.mktemp(overlay)) for overlay in ("cpu", "gpu")}


def _by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def _crd_schema(filename: str) -> dict:
    crd = yaml.safe_load((SCHEMAS / filename).read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_rendered_manifests_are_valid_kubernetes_and_keda_objects(rendered, overlay):
    crds = {
        "ScaledObject": _crd_schema("keda.sh_scaledobjects.yaml"),
        "TriggerAuthentication": _crd_schema("keda.sh_triggerauthentications.yaml"),
    }
    for doc in rendered[overlay]:
        if doc["apiVersion"].startswith("keda.sh/"):
            jsonschema.validate(doc, crds[doc["kind"]])
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validation_refuses_a_broken_manifest(rendered):
    web = yaml.safe_load(yaml.safe_dump(_by_kind(rendered["cpu"], "Deployment")["web"]))
    web["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, KUBERNETES_VERSION, strict=True)
    scaled = yaml.safe_load(yaml.safe_dump(_by_kind(rendered["cpu"], "ScaledObject")["worker"]))
    del scaled["spec"]["triggers"][0]["type"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, _crd_schema("keda.sh_scaledobjects.yaml"))


def test_each_overlay_runs_its_processes_and_only_the_gpu_overlay_a_gpu_worker(rendered):
    for overlay, docs in rendered.items():
        deployments = _by_kind(docs, "Deployment")
        expected = {"web", "worker", "housekeeping", "beat"} | ({"gpu-worker"} if overlay == "gpu" else set())
        assert set(deployments) == expected, overlay
        assert set(_by_kind(docs, "Job")) == {"migrate"}
        assert _container(_by_kind(docs, "Job")["migrate"])["command"] == [
            "python",
            "manage.py",
            "migrate",
            "--noinput",
        ]
        assert {doc["metadata"].get("namespace") for doc in docs if doc["kind"] != "Namespace"} == {"odiadev"}
    gpu = _by_kind(rendered["gpu"], "Deployment")["gpu-worker"]
    container = _container(gpu)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu["spec"]["template"]["spec"][
        "tolerations"
    ]
    assert container["command"][container["command"].index("-Q") + 1] == "synth_gpu"
    assert all("nvidia.com/gpu" not in yaml.safe_dump(doc) for doc in rendered["cpu"])


def test_web_serves_on_its_port_with_probes_django_answers(rendered):
    for docs in rendered.values():
        web = _by_kind(docs, "Deployment")["web"]
        container = _container(web)
        assert container["command"][:3] == ["python", "-m", "odiadev.web"]
        port = container["ports"][0]["containerPort"]
        assert container["command"][container["command"].index("-p") + 1] == str(port)
        config = next(iter(_by_kind(docs, "ConfigMap").values()))["data"]
        for probe in ("readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] == "/health/live"
            host = next(h["value"] for h in get["httpHeaders"] if h["name"] == "Host")
            assert host in config["DJANGO_ALLOWED_HOSTS"].split(","), "Django would answer the probe 400"
        service = _by_kind(docs, "Service")["web"]
        assert service["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
        ingress = _by_kind(docs, "Ingress")["web"]
        assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
        assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "web"
        hpa = _by_kind(docs, "HorizontalPodAutoscaler")["web"]
        assert hpa["spec"]["scaleTargetRef"]["name"] == "web"
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        assert "cpu" in container["resources"]["requests"]


def test_exactly_one_beat_replaced_not_rolled(rendered):
    for docs in rendered.values():
        beat = _by_kind(docs, "Deployment")["beat"]
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}
        assert "beat" not in _by_kind(docs, "HorizontalPodAutoscaler")
        assert all(obj["spec"]["scaleTargetRef"]["name"] != "beat" for obj in _by_kind(docs, "ScaledObject").values())


def test_keda_scales_the_workers_on_the_celery_queue_lists(rendered):
    queues = settings.SPEECH_ENGINE_QUEUES
    cpu = _by_kind(rendered["cpu"], "ScaledObject")
    assert set(cpu) == {"worker"}
    gpu = _by_kind(rendered["gpu"], "ScaledObject")
    assert set(gpu) == {"worker", "gpu-worker"}
    for name, queue in (("worker", queues["piper"]), ("gpu-worker", queues["dia"])):
        trigger = gpu[name]["spec"]["triggers"][0]
        assert trigger["type"] == "redis"
        assert trigger["metadata"]["listName"] == queue
        assert gpu[name]["spec"]["scaleTargetRef"]["name"] == name
        auth = _by_kind(rendered["gpu"], "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
        secret_names = set(_by_kind(rendered["gpu"], "Secret"))
        assert {ref["name"] for ref in auth["spec"]["secretTargetRef"]} <= secret_names
    assert gpu["gpu-worker"]["spec"]["minReplicaCount"] == 0
    assert gpu["worker"]["spec"]["minReplicaCount"] >= 1


def test_disruption_budgets_select_the_pods_they_protect(rendered):
    docs = rendered["gpu"]
    deployments = _by_kind(docs, "Deployment")
    budgets = _by_kind(docs, "PodDisruptionBudget")
    assert set(budgets) == {"web", "worker", "housekeeping", "gpu-worker"}
    for name, budget in budgets.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items(), name


def test_pods_get_the_generated_config_and_secret_and_run_as_non_root(rendered):
    for docs in rendered.values():
        generated = set(_by_kind(docs, "ConfigMap")) | set(_by_kind(docs, "Secret"))
        workloads = [*_by_kind(docs, "Deployment").values(), *_by_kind(docs, "Job").values()]
        for workload in workloads:
            pod = workload["spec"]["template"]["spec"]
            refs = {next(iter(ref.values()))["name"] for ref in _container(workload)["envFrom"]}
            assert refs <= generated, workload["metadata"]["name"]
            assert len(refs) == 2, workload["metadata"]["name"]
            assert pod["securityContext"]["runAsNonRoot"] is True
        images = {_container(w)["image"] for w in workloads}
        assert all(":" in image for image in images)


def test_config_and_secrets_hold_only_documented_settings():
    documented = env_example_names()
    config = env_file_names(DEPLOY / "k8s" / "base" / "config.env")
    assert not set(config) - documented
    assert config["DJANGO_SETTINGS_MODULE"] == "odiadev.settings.production"
    secrets = env_file_names(DEPLOY / "k8s" / "base" / "secrets.env.example")
    # KEDA_* are read by KEDA's TriggerAuthentication, not by the application
    assert not {name for name in secrets if not name.startswith("KEDA_")} - documented
    assert "DJANGO_SECRET_KEY" in secrets
    assert "DJANGO_SECRET_KEY" not in config
    # no secret in the ConfigMap
    assert not {"DATABASE_URL", "REDIS_URL", "AWS_SECRET_ACCESS_KEY", "STRIPE_SECRET_KEY"} & set(config)
    assert "deploy/k8s/base/secrets.env" in (ROOT / ".gitignore").read_text().split()


def test_autoscaled_deployments_leave_their_replica_count_to_the_autoscaler(rendered):
    # a `replicas` in the manifest would set the count back on every `kubectl apply`, under KEDA's and the HPA's feet
    docs = rendered["gpu"]
    deployments = _by_kind(docs, "Deployment")
    targets = {obj["spec"]["scaleTargetRef"]["name"] for obj in _by_kind(docs, "ScaledObject").values()}
    targets |= {obj["spec"]["scaleTargetRef"]["name"] for obj in _by_kind(docs, "HorizontalPodAutoscaler").values()}
    assert targets == {"web", "worker", "gpu-worker"}
    for name in targets:
        assert "replicas" not in deployments[name]["spec"], name
