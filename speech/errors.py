"""Errors raised by the speech layer. `TransientEngineError` is worth a retry; `EngineError` is not."""


class EngineError(Exception):
    code = "engine_error"


class TransientEngineError(EngineError):
    code = "engine_transient_error"


class UnknownVoice(EngineError):
    code = "voice_not_found"


class UnsupportedFormat(EngineError):
    code = "invalid_format"


class AlignmentsUnavailable(EngineError):
    """Word timings were asked of an engine (or voice) that cannot report them."""

    code = "timestamps_unavailable"
