"""Provenance errors with stable codes. Unusable uploads answer with the `audio_*` codes (core.exceptions)."""

from rest_framework import status

from core.exceptions import ApplicationError


class VerificationUnavailable(ApplicationError):
    code = "verification_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "No worker could check the audio just now. Try again in a minute."
