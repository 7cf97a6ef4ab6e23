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


class ConsentReviewInvalid(ApplicationError):
    code = "consent_review_invalid"
    status_code = status.HTTP_409_CONFLICT
    default_message = "This consent record cannot be reviewed now."


class ConsentRejectedInReview(ApplicationError):
    """Recorded on a profile (its rejection) when a reviewer rejects its consent."""

    code = "consent_rejected_in_review"
    default_message = "A reviewer could not confirm the consent for this voice. It can no longer be used."


class SampleNotTranscribed(ApplicationError):
    """Recorded on a profile (its rejection) when no transcript was given and none could be heard in the sample."""

    code = "sample_not_transcribed"
    default_message = (
        "We could not hear any words in your voice sample, so we cannot transcribe it. Record a sample of you "
        "reading a few sentences, or type what it says."
    )


class VoiceTranscriptInvalid(ApplicationError):
    code = "invalid_request"
    default_message = "Give the sample's transcript: the words said in the voice sample."
