"""Account errors with stable codes."""

from rest_framework import status

from core.exceptions import ApplicationError, NotFound


class AuthenticationFailed(ApplicationError):
    code = "authentication_failed"
    status_code = status.HTTP_401_UNAUTHORIZED
    default_message = "Invalid or revoked API key."


class ApiKeyNotFound(NotFound):
    default_message = "API key not found."


class SignupInvalid(ApplicationError):
    code = "signup_invalid"


class EmailInvalid(SignupInvalid):
    code = "email_invalid"
    default_message = "Enter a valid email address."


class PasswordInvalid(SignupInvalid):
    code = "password_invalid"


class EmailTaken(SignupInvalid):
    code = "email_taken"
    default_message = "An account with this email already exists."


class SignupsClosed(ApplicationError):
    code = "signups_closed"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Sign-ups are closed for now. Please try again later."


class AccountBlocked(ApplicationError):
    code = "account_blocked"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "This account has been blocked."
