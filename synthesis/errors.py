"""Synthesis errors with stable codes."""

from enum import StrEnum

from rest_framework import status

from core.exceptions import ApplicationError, NotFound


class TextEmpty(ApplicationError):
    code = "text_empty"
    default_message = "Text is empty. Send the text to speak in `text`."


class TextTooLong(ApplicationError):
    code = "text_too_long"
    default_message = "Text is too long."


class InvalidFormat(ApplicationError):
    code = "invalid_format"
    default_message = "Unsupported audio format."


class InvalidSampleRate(ApplicationError):
    code = "invalid_sample_rate"
    default_message = "Unsupported sample rate for this format."


class InvalidBitrate(ApplicationError):
    code = "invalid_bitrate"
    default_message = "Unsupported bitrate for this format and sample rate."


class InvalidSpeed(ApplicationError):
    code = "invalid_speed"
    default_message = "Speed must be a number from 0.5 to 2.0."


class InvalidSeed(ApplicationError):
    code = "invalid_seed"
    default_message = "Seed must be an integer from 0 to 4294967295."


class JobNotFound(NotFound):
    default_message = "Job not found."


class AudioNotReady(ApplicationError):
    code = "audio_not_ready"
    status_code = status.HTTP_409_CONFLICT
    default_message = "The job has no audio yet. Wait for status `succeeded`."


class AudioExpired(ApplicationError):
    code = "audio_expired"
    status_code = status.HTTP_410_GONE
    default_message = (
        "This job's audio was deleted after your plan's retention period. Submit the text again to get new audio."
    )


class JobNotCancellable(ApplicationError):
    code = "job_not_cancellable"
    status_code = status.HTTP_409_CONFLICT
    default_message = "The job has already finished and cannot be cancelled."


class SpokenTextTooLong(ApplicationError):
    """The spoken form (after pronunciations and normalisation) grew far beyond what was sent."""

    code = "spoken_text_too_long"
    default_message = "The text becomes too long once spelled out for speech. Split it into several requests."


class PronunciationNotFound(NotFound):
    default_message = "Pronunciation not found."


class PronunciationInvalid(ApplicationError):
    code = "pronunciation_invalid"
    default_message = "The pronunciation entry is not valid."


class PronunciationExists(ApplicationError):
    code = "pronunciation_exists"
    status_code = status.HTTP_409_CONFLICT
    default_message = "You already have an entry for this word. Edit it instead."


class PronunciationLimitReached(ApplicationError):
    code = "pronunciation_limit_reached"
    status_code = status.HTTP_409_CONFLICT
    default_message = "Your pronunciation dictionary is full. Delete an entry to add another."


class SynthesisFailed(ApplicationError):
    """A request that waits for its audio (the OpenAI-compatible endpoint) and the job failed."""

    code = "synthesis_failed"
    status_code = status.HTTP_502_BAD_GATEWAY


class SynthesisTimeout(ApplicationError):
    code = "synthesis_timeout"
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_message = "The audio is not ready yet. The job goes on: fetch it from /v1/tts/{id}."


class IdempotencyKeyReused(ApplicationError):
    """An `Idempotency-Key` already used by this account, within its lifetime, for a different request."""

    code = "idempotency_key_reused"
    status_code = status.HTTP_409_CONFLICT
    default_message = (
        "This Idempotency-Key was already used with a different request (another endpoint or body). Use a new key "
        "for a new request; send the same body to get the first request's job."
    )


class TimestampsUnavailable(ApplicationError):
    """Word timestamps asked of a voice whose engine reports no alignments (and no recogniser times its output)."""

    code = "timestamps_unavailable"
    default_message = (
        "Word timestamps are not available for this voice: its engine does not report word timings. "
        "Send the request without `timestamps`, or use a built-in Piper voice."
    )


class CaptionsNotReady(ApplicationError):
    """Captions of a job that has no word timestamps (not asked for, or the job has not succeeded)."""

    code = "captions_unavailable"
    status_code = status.HTTP_409_CONFLICT
    default_message = (
        "This job has no word timestamps yet: captions need a succeeded job submitted with `timestamps: true`."
    )


class JobErrorCode(StrEnum):
    """Why a job failed, as its `error.code`, when no error class raised it (the worker's own verdicts). Engine and
    admission failures carry their error's own code (`gpu_out_of_memory`, `engine_disabled`, ...)."""

    WORKER_LOST = "worker_lost"
    TIMEOUT = "timeout"
    ENGINE_UNAVAILABLE = "engine_unavailable"
    INTERNAL_ERROR = "internal_error"
    GPU_OUT_OF_MEMORY = "gpu_out_of_memory"


class AudioLinkInvalid(ApplicationError):
    code = "audio_link_invalid"
    default_message = "The audio link has expired or is invalid."


class FormatNotStreamable(InvalidFormat):
    code = "format_not_streamable"


class InvalidStreamFormat(ApplicationError):
    code = "invalid_stream_format"
    default_message = 'Only stream_format "audio" is supported.'


class StreamBusy(ApplicationError):
    """A websocket asked for a second audio stream while one is running (binary frames carry no job id)."""

    code = "stream_busy"
    default_message = "This socket is already streaming a job: wait for its audio.end."


# Text-in streaming (/ws/tts/): errors of one context, sent as {"type": "error", "context_id", "code", "message"}.
class LiveContextNotFound(ApplicationError):
    code = "context_not_found"
    default_message = 'No open context with this context_id: send "context.open" first.'


class LiveContextExists(ApplicationError):
    code = "context_exists"
    default_message = "A context with this context_id is open on this socket: close it or pick another id."


class LiveTooManyContexts(ApplicationError):
    code = "too_many_contexts"
    default_message = "This socket has as many open contexts as it may: close one first."


class LiveBufferFull(ApplicationError):
    code = "context_buffer_full"
    default_message = "Too much text waits for a sentence end: send a flush (or end your sentences)."


class LiveContextClosed(ApplicationError):
    code = "context_closed"
    default_message = "This context is closing: it takes no more text."


class LiveInvalidMessage(ApplicationError):
    code = "invalid_message"
    default_message = 'Send JSON objects with a "type" and a "context_id".'
