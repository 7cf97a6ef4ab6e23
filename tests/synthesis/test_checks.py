"""`check --deploy` warns when Dia runs from an unpinned revision; Dia serving settings out of range are errors."""

from synthesis.checks import dia_revision_pinned, dia_serving_settings


def _options(settings, **changes):
    return {**settings.SPEECH_ENGINE_OPTIONS, "dia": {**settings.SPEECH_ENGINE_OPTIONS["dia"], **changes}}


def test_unpinned_dia_revision_warns(settings):
    settings.CLONING_ENGINE = "dia"
    settings.SPEECH_ENGINE_OPTIONS = _options(settings, model_id="nari-labs/Dia-1.6B-0626", revision="main")

    assert [warning.id for warning in dia_revision_pinned(None)] == ["odiadev.W001"]


def test_pinned_revision_or_no_dia_is_quiet(settings):
    settings.CLONING_ENGINE = "dia"
    settings.SPEECH_ENGINE_OPTIONS = _options(settings, revision="0123abcd")
    assert dia_revision_pinned(None) == []

    settings.CLONING_ENGINE = ""
    settings.SPEECH_WARM_ENGINES = ["piper"]
    settings.SPEECH_ENGINE_OPTIONS = _options(settings, revision="main")
    assert dia_revision_pinned(None) == []


def test_dia_serving_settings_out_of_range_are_errors(settings):
    assert dia_serving_settings(None) == []

    settings.SPEECH_ENGINE_OPTIONS = _options(settings, compile="yes", max_batch=0, simulate_compile_failure=True)
    settings.SPEECH_BATCHING = {"dia": {**settings.SPEECH_BATCHING["dia"], "account_share": 0}}
    found = dia_serving_settings(None)

    assert [message.id for message in found] == ["odiadev.E001"] * 3 + ["odiadev.W002"]
    assert "DIA_COMPILE" in found[0].msg
