"""What the deploy tests read: the repository's deploy/ folder, .env.example's variable names, the rendered
Kustomize overlays."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMAS = Path(__file__).resolve().parent / "schemas"


def env_example_names() -> set[str]:
    """Every variable .env.example documents, set (`NAME=`) or shown commented (`# NAME=`)."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def env_file_names(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def render(overlay: str, tmp_path: Path) -> list[dict]:
    """`kubectl kustomize deploy/k8s/overlays/<overlay>` of a copy whose secrets.env is the example, as documents."""
    copy = tmp_path / "k8s"
    shutil.copytree(DEPLOY / "k8s", copy)
    shutil.copy(copy / "base" / "secrets.env.example", copy / "base" / "secrets.env")
    result = subprocess.run(
        ["kubectl", "kustomize", str(copy / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
