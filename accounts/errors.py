"""Account errors with stable codes."""

from rest_framework import status

from core.exceptions import ApplicationError


class AuthenticationFailed(ApplicationError):
    code = "authentication_failed"
    status_code = status.HTTP_401_UNAUTHORIZED
    default_message = "Invalid or revoked API key."


class ApiKeyNotFound(ApplicationError):
    code = "not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "API key not found."


class SignupInvalid(ApplicationError):
    code = "signup_invalid"


class SignupsClosed(ApplicationError):
    code = "signups_closed"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Sign-ups are closed for now. Please try again later."
