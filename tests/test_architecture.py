"""The web tier never imports engines: loading the URL conf (and the ASGI app) pulls in no torch, onnxruntime,
piper or speech/ module. Checked in a fresh interpreter, since this test process has loaded engines already."""

import ast
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


# ------------------------------------------------------------------------------------------------------------
# Layers, counted from the code's own imports (every import statement, at module level or inside a function)
# ------------------------------------------------------------------------------------------------------------
# core <- controls <- the apps <- ops; among the apps, each may import only those before it.
LAYERS = ["core", "controls", "billing", "accounts", "webhooks", "voices", "synthesis", "provenance", "ops"]
RANK = {name: rank for rank, name in enumerate(LAYERS)}
# A function-level import of another app is allowed only with a comment saying why it must stay lazy.
LAZY_REASON = "lazy:"


def _imports():
    """(module file, importing package, imported package, lineno, function-level, comment) for every import of one
    of our packages by another, outside tests and migrations."""

    found = []
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            lines = source.splitlines()
            tree = ast.parse(source)
            nested = {
                id(inner)
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                for inner in ast.walk(node)
                if isinstance(inner, ast.Import | ast.ImportFrom)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    target = name.split(".")[0]
                    if target in RANK and target != package:
                        context = " ".join(lines[max(0, node.lineno - 2) : node.lineno])
                        found.append(
                            (path.relative_to(ROOT), package, target, node.lineno, id(node) in nested, context)
                        )
    return found


def test_imports_point_down_the_layers():
    upward = [
        f"{path}:{line} {package} -> {target}"
        for path, package, target, line, _, _ in _imports()
        if RANK[target] > RANK[package]
    ]

    assert upward == [], (
        "core <- controls <- billing <- accounts <- webhooks <- voices <- synthesis <- provenance <- ops"
    )


def test_core_imports_no_app_and_controls_only_core():
    imports = _imports()

    assert [f"{p}:{n}" for p, package, _, n, _, _ in imports if package == "core"] == []
    assert [f"{p}:{n} -> {t}" for p, package, t, n, _, _ in imports if package == "controls" and t != "core"] == []


def test_no_app_imports_the_project_package():
    """`odiadev/` holds the project's files (settings, urls, asgi, celery, the launchers) and sits above every app:
    an app reads settings through `django.conf` and sends tasks through `celery.current_app`."""
    found = []
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                found += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names if n.split(".")[0] == "odiadev"]

    assert found == []


def test_no_app_imports_ops():
    assert [f"{p}:{n}" for p, package, target, n, _, _ in _imports() if target == "ops" and package != "ops"] == []


def test_no_import_cycle_between_packages():
    edges: dict[str, set[str]] = {}
    for _, package, target, _, _, _ in _imports():
        edges.setdefault(package, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in edges.get(start, ())
        )

    assert [package for package in edges if reaches(package, package, {package})] == []


def test_function_level_imports_of_other_packages_say_why():
    hidden = [
        f"{path}:{line} {package} -> {target}"
        for path, package, target, line, nested, context in _imports()
        if nested and LAZY_REASON not in context
    ]

    assert hidden == [], f"import at module level, or say why it must stay lazy with a '# {LAZY_REASON} ...' comment"


def test_project_package_holds_project_files_only():
    apps_inside = sorted(p.parent.name for p in (ROOT / "odiadev").glob("*/apps.py"))

    assert apps_inside == []


def test_no_module_over_400_lines():
    packages = [*LAYERS, "odiadev", "speech", "textnorm"]
    long = [
        f"{path.relative_to(ROOT)} ({count} lines)"
        for package in packages
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and (count := len(path.read_text(encoding="utf-8").splitlines())) > 400
    ]

    assert long == []
