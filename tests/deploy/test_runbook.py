"""docs/operations.md names only what exists: its switches, commands, admin pages, ops panel actions, metrics and
settings are checked against the product, so a rename breaks this test instead of an operator's incident."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.core.management import get_commands

from controls.switches import SWITCHES
from ops.views import ACTIONS

from .support import DEPLOY, ROOT, env_example_names

RUNBOOK = (ROOT / "docs" / "operations.md").read_text()


def _exported_metrics() -> set[str]:
    names = set()
    for path in [*ROOT.glob("*/metrics.py"), *ROOT.glob("*/*.py")]:
        names |= set(re.findall(r'"(odiadev_[a-z_]+)"', path.read_text()))
    return names


def test_every_switch_it_names_exists_and_it_names_them_all():
    row = next(line for line in RUNBOOK.splitlines() if line.startswith("| kill switches"))
    listed = set(re.findall(r"`([a-z_]+)`", row.split("(`controls/switches.py`)")[0]))
    assert listed == set(SWITCHES)
    named = set(re.findall(r"`(engine_[a-z]+)`", RUNBOOK)) - {"engine_disabled"}  # (an error code)
    named |= set(re.findall(r"`([a-z]+_[a-z]+)` (?:switch|on|off)", RUNBOOK))
    assert named <= set(SWITCHES)


def test_every_manage_py_command_it_names_exists():
    commands = set(re.findall(r"manage\.py ([a-z_]+)", RUNBOOK))
    assert {"create_api_key", "lifecycle_policy", "migrate", "createsuperuser"} <= commands
    assert commands <= set(get_commands())


def _plural(name: str) -> str:
    """Django's default plural as a reader says it (`switchs` is the page of switches)."""
    return re.sub(r"(ch|sh|x)s$", r"\1es", re.sub(r"ys$", "ies", name)).lower()


@pytest.mark.parametrize(
    "reference",
    sorted(set(re.findall(r"\*([A-Z][a-z]+) \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} ([A-Za-z ]+)\*", RUNBOOK))),
)
def test_every_admin_page_it_names_is_in_the_admin(reference):
    app, page = reference
    pages = {
        (model._meta.app_config.verbose_name, _plural(str(model._meta.verbose_name_plural)))
        for model in admin.site._registry
    }
    assert (app, page.lower()) in pages, f"{app} / {page} is not an admin page"


def test_every_ops_panel_action_it_names_exists():
    named = {
        name.lower().replace(" ", "_")
        for name in re.findall(r"\*\*(Purge queue|Clear cache|Reset breaker)\*\*", RUNBOOK)
    }
    assert named == set(ACTIONS)


def test_every_metric_it_names_is_exported():
    named = {re.sub(r"_(bucket|total)$", "", name) for name in re.findall(r"`[^`]*?(odiadev_[a-z_]+)", RUNBOOK)}
    named -= {"odiadev_restored"}  # (a database name in the restore steps)
    exported = _exported_metrics()
    assert not {name for name in named if name not in exported and f"{name}_total" not in exported}


def test_every_setting_it_names_is_documented():
    named = set(re.findall(r"`([A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+)", RUNBOOK))
    # the Secret's KEDA variables, caches inside the images, Compose's own variables, LIMIT_<NAME> overrides
    not_settings = {"KEDA_REDIS_ADDRESS", "KEDA_REDIS_PASSWORD", "HF_HOME", "POSTGRES_PASSWORD", "ODIADEV_TAG"}
    not_settings |= {name for name in named if name.startswith("LIMIT_")}
    assert named - not_settings <= env_example_names()
    # the KEDA variables are the Secret's
    assert {"KEDA_REDIS_ADDRESS", "KEDA_REDIS_PASSWORD"} <= set(
        re.findall(r"^([A-Z_]+)=", (DEPLOY / "k8s/base/secrets.env.example").read_text(), re.MULTILINE)
    )
