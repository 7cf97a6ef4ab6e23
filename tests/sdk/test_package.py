"""The SDK is a package of its own: installable with pip, typed, and importing nothing of the server."""

from __future__ import annotations

import ast
import sys
import tomllib

from .conftest import SDK_SRC

ALLOWED_THIRD_PARTY = {"httpx", "websockets"}


def test_the_package_declares_the_odiadev_console_script_and_ships_its_type_marker():
    project = tomllib.loads((SDK_SRC.parent / "pyproject.toml").read_text())

    assert project["project"]["scripts"] == {"odiadev": "odiadev_sdk.cli:main"}
    assert project["project"]["name"] != "odiadev"  # the Django project's own package is `odiadev`
    assert (SDK_SRC / "odiadev_sdk" / "py.typed").is_file()
    assert project["tool"]["setuptools"]["package-data"]["odiadev_sdk"] == ["py.typed"]
    assert {dep.split(">")[0].split("=")[0] for dep in project["project"]["dependencies"]} == ALLOWED_THIRD_PARTY


def test_the_sdk_imports_only_the_standard_library_httpx_and_websockets():
    foreign = []
    for path in sorted((SDK_SRC / "odiadev_sdk").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY | {"odiadev_sdk"}:
                    foreign.append(f"{path.name}:{node.lineno} imports {name}")

    assert foreign == []
