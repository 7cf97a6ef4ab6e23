from django.urls import path

from . import views

urlpatterns = [
    path("webhooks/", views.webhooks_page, name="webhooks"),
    path("webhooks/<uuid:webhook_id>/", views.webhook_page, name="webhook"),
    path("webhooks/<uuid:webhook_id>/rotate", views.webhook_rotate_view, name="webhook-rotate"),
    path("webhooks/<uuid:webhook_id>/test", views.webhook_test_view, name="webhook-test"),
    path("webhooks/<uuid:webhook_id>/delete", views.webhook_delete_view, name="webhook-delete"),
    path("webhooks/deliveries/<uuid:delivery_id>/resend", views.delivery_resend_view, name="webhook-delivery-resend"),
]
