"""URL map: dashboard pages, the /v1 API, docs, health, metrics and the admin."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import views as core_views
from core.private import private_endpoint
from ops import views as ops_views

# Each app's /v1 routes live in its `api_urls`; reversed as "api:<name>".
api_patterns = [
    path("", include("billing.api_urls")),
    path("", include("voices.api_urls")),
    path("", include("synthesis.api_urls")),
    path("", include("webhooks.api_urls")),
    path("", include("provenance.api_urls")),
    # The docs are public: no authentication, so a signed-in account that has not verified its email yet reads them
    # too (its session is refused on the API itself, and rendering the page for that refusal failed with a 500).
    path("schema", SpectacularAPIView.as_view(authentication_classes=[]), name="schema"),
    # The split view serves its init script as a file (`?script`): the CSP allows no inline script.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="api:schema", authentication_classes=[]), name="docs"),
]

urlpatterns = [
    path("v1/", include((api_patterns, "api"))),
    path("favicon.ico", core_views.favicon),
    path("health/live", ops_views.health_live, name="health-live"),
    path("health", ops_views.health, name="health"),
    # Only for our scrapers (a token or an allowed address; 404 for anyone else): core/private.py.
    path("metrics", private_endpoint(ExportToDjangoView), name="metrics"),
    # Operators' bookmarks from before the restructure: these models moved from `ops` to `controls` / `accounts`.
    re_path(
        r"^admin/ops/(?P<rest>(switch|switchchange|ipblock|abuseflag)/.*)$",
        RedirectView.as_view(url="/admin/controls/%(rest)s"),
    ),
    re_path(r"^admin/ops/(?P<rest>userblock/.*)$", RedirectView.as_view(url="/admin/accounts/%(rest)s")),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("synthesis.urls")),
    path("", include("voices.urls")),
    path("", include("billing.urls")),
    path("", include("ops.urls")),
    path("", include("webhooks.urls")),
    path("", include("provenance.urls")),
]

handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
