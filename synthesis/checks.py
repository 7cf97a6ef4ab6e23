"""System checks for synthesis settings (`manage.py check --deploy` shows them)."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility, deploy=True)
def dia_revision_pinned(app_configs, **kwargs):
    uses_dia = settings.CLONING_ENGINE == "dia" or "dia" in settings.SPEECH_WARM_ENGINES
    options = settings.SPEECH_ENGINE_OPTIONS["dia"]
    if uses_dia and options["revision"] == "main" and not Path(options["model_id"]).is_dir():
        return [
            Warning(
                "DIA_MODEL_REV is 'main': the Dia weights can change under a running deployment.",
                hint="Set DIA_MODEL_REV to the commit you tested.",
                id="odiadev.W001",
            )
        ]
    return []


@register(Tags.compatibility)
def dia_serving_settings(app_configs, **kwargs):
    """DIA_COMPILE, DIA_MAX_BATCH and DIA_ACCOUNT_SHARE out of range stop a worker at start: say so at check time."""
    options = settings.SPEECH_ENGINE_OPTIONS["dia"]
    batching = settings.SPEECH_BATCHING.get("dia", {})
    problems = []
    if options.get("compile", "auto") not in ("auto", "on", "off"):
        problems.append(f"DIA_COMPILE is {options['compile']!r}; it must be auto, on or off.")
    if int(options.get("max_batch", 1)) < 1:
        problems.append("DIA_MAX_BATCH must be at least 1.")
    if not 0 < float(batching.get("account_share", 1.0)) <= 1:
        problems.append("DIA_ACCOUNT_SHARE must be above 0 and at most 1.")
    errors = [Error(problem, id="odiadev.E001") for problem in problems]
    if options.get("simulate_compile_failure"):
        errors.append(
            Warning(
                "DIA_SIMULATE_COMPILE_FAILURE is on: Dia decodes eagerly (a drill; several times slower on a GPU).",
                id="odiadev.W002",
            )
        )
    return errors
