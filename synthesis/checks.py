"""System checks for synthesis settings (`manage.py check --deploy` shows them)."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Tags, Warning, register


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
