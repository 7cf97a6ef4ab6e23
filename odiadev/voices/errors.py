from rest_framework import status

from odiadev.core.exceptions import ApplicationError


class VoiceNotFound(ApplicationError):
    code = "voice_not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "No voice with this id is available to you. GET /v1/voices lists the voices you can use."
