from django.urls import path

from . import apis, views

urlpatterns = [
    path("billing/", views.billing_page, name="billing"),
    path("billing/checkout/", views.checkout_start, name="billing-checkout"),
    path("billing/portal/", views.portal_start, name="billing-portal"),
    path("billing/watermark/", views.watermark_update, name="billing-watermark"),
    path("stripe/webhook/", apis.StripeWebhookApi.as_view(), name="stripe-webhook"),
]
