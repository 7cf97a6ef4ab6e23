"""Provenance's routes under /v1/ (included by the root URL map in the `api` namespace)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("provenance/verify", apis.ProvenanceVerifyApi.as_view(), name="provenance-verify"),
]
