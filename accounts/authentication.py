"""DRF authentication by API key: `Authorization: Bearer <key>`."""

from rest_framework import authentication, exceptions

from .errors import EmailUnverified
from .services import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("No API key given after 'Bearer'.")
        api_key = api_key_authenticate(secret=secret)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return api_key.user, api_key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication (the dashboard's own API calls), refused with `email_unverified` while the
    account's email is not verified: the same rule as its keys, with words for the dashboard."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and result[0].email_verified_at is None:
            raise EmailUnverified(
                "Verify your email address first: follow the link we sent you, or ask for a new one at the top of "
                "this page."
            )
        return result
