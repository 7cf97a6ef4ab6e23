"""Who counts what an account keeps in storage: each app whose rows point to stored files registers a reporter
here, from its `AppConfig.ready`, so that billing can open an account's storage figure (billing/storage.py) without
importing the apps above it. A reporter is named by dotted path, resolved when a figure is opened, so this module
imports no model and an app's apps.py may import it while the app registry is still loading."""

from __future__ import annotations

from collections.abc import Callable

from django.utils.module_loading import import_string

# name -> dotted path of `reporter(*, user) -> int`: the bytes that account keeps through the app's rows.
_reporters: dict[str, str] = {}


def storage_reporter_register(name: str, path: str) -> None:
    """Register (or replace) the reporter `name`: `path` names a function `(*, user) -> int`."""
    _reporters[name] = path


def storage_reporters() -> dict[str, Callable[..., int]]:
    return {name: import_string(path) for name, path in _reporters.items()}
