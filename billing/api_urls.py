"""Billing's routes under /v1/ (included by the root URL map in the `api` namespace)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("usage", apis.UsageApi.as_view(), name="usage"),
    path("account", apis.AccountApi.as_view(), name="account"),
    path("billing/invoices", apis.InvoicesApi.as_view(), name="billing-invoices"),
    path("billing/checkout", apis.CheckoutApi.as_view(), name="billing-checkout"),
    path("billing/portal", apis.PortalApi.as_view(), name="billing-portal"),
]
