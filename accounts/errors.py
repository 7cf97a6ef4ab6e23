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


class EmailUnverified(ApplicationError):
    code = "email_unverified"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = (
        "Verify this account's email address before using its API keys: follow the link we sent, or ask for a new "
        "one on the dashboard."
    )


class VerificationLinkInvalid(ApplicationError):
    code = "verification_link_invalid"
    default_message = "This verification link is not valid. Ask for a new one on the dashboard."


class VerificationLinkExpired(VerificationLinkInvalid):
    code = "verification_link_expired"
    default_message = "This verification link has expired. Log in and ask for a new one."


class Throttled(ApplicationError):
    """Too many attempts of something from one account or address; `retry_after` says for how long."""

    code = "throttled"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, message: str | None = None, *, retry_after: int, **kwargs) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, detail={"retry_after": self.retry_after}, **kwargs)


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-int(seconds) // 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class LoginThrottled(Throttled):
    code = "login_throttled"

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(f"Too many failed log-ins; try again in {_minutes(retry_after)}.", retry_after=retry_after)


class SignupThrottled(Throttled):
    code = "signup_throttled"

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(
            f"Too many sign-ups from your network; try again in {_minutes(retry_after)}.", retry_after=retry_after
        )


class PasswordResetThrottled(Throttled):
    code = "password_reset_throttled"

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(
            f"Too many password resets asked from your network; try again in {_minutes(retry_after)}.",
            retry_after=retry_after,
        )


class VerificationResendThrottled(Throttled):
    code = "verification_resend_throttled"

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(
            f"We sent several links already; ask again in {_minutes(retry_after)} (check your spam folder too).",
            retry_after=retry_after,
        )


class ThrottleUnavailable(ApplicationError):
    """The throttle's store (Redis) is out of reach, for an action that must not go unthrottled."""

    code = "service_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "This is unavailable for a moment. Please try again shortly."
    retry_after = 5


class MfaCodeInvalid(ApplicationError):
    code = "mfa_code_invalid"
    default_message = "That code is not right. Enter the 6-digit code your authenticator app shows now."
