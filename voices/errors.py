"""Voice errors with stable codes."""

from rest_framework import status

from core.exceptions import ApplicationError


class VoiceNotFound(ApplicationError):
    code = "voice_not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "No voice with this id is available to you. GET /v1/voices lists the voices you can use."


class ConsentChallengeInvalid(ApplicationError):
    code = "consent_challenge_invalid"
    default_message = (
        "The consent challenge is unknown, expired or already used. Request a new one with "
        "POST /v1/voices/consent-challenge and read its statement."
    )


class AudioInvalid(ApplicationError):
    """An uploaded recording that cannot be used; `code` is one of the `audio_*` codes."""

    code = "audio_unreadable"


class AudioTooLarge(AudioInvalid):
    code = "audio_too_large"
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class VoiceUploadInvalid(ApplicationError):
    code = "invalid_request"


class ValidationUnavailable(ApplicationError):
    code = "validation_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "No worker could check the recordings just now. Try again in a minute."


class CloningEngineUnavailable(ApplicationError):
    code = "cloning_engine_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "Cloned voices cannot be synthesized here: no cloning engine is configured."


class CloningDisabled(ApplicationError):
    code = "cloning_disabled"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Voice cloning is switched off on this platform for now. Built-in voices still work."


class ConsentReviewInvalid(ApplicationError):
    code = "consent_review_invalid"
    status_code = status.HTTP_409_CONFLICT
    default_message = "This consent record cannot be reviewed now."
