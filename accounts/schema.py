"""OpenAPI description of API-key authentication (registered when the app is ready)."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "odk_<prefix>_<secret>",
            "description": "An API key from the dashboard's API keys page: `Authorization: Bearer <key>`.",
        }


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    """The dashboard's session cookie, described as drf-spectacular describes DRF's own session authentication."""

    target_class = "accounts.authentication.VerifiedSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
