"""Dashboard pages for webhooks: register endpoints (the secret shown once), edit, rotate, test, and follow each
delivery with its attempts (resend any of them)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.exceptions import ApplicationError

from .forms import WebhookEndpointForm
from .models import EventType
from .selectors import (
    webhook_delivery_get_for,
    webhook_delivery_list_for,
    webhook_endpoint_get_for,
    webhook_endpoint_list_for,
)
from .services import (
    webhook_delivery_resend,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_test_send,
)

_ISSUED_SESSION_KEY = "webhook_secret_just_issued"


def _remember_secret(request, endpoint, secret: str) -> None:
    # Post/redirect/get: the secret rides in the session for exactly one page view and is removed as it is shown.
    request.session[_ISSUED_SESSION_KEY] = {"secret": secret, "endpoint": str(endpoint.id)}


@login_required
@require_http_methods(["GET", "POST"])
def webhooks_page(request):
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = webhook_endpoint_create(
                user=request.user,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
            )
        except ApplicationError as exc:
            form.add_error("url" if exc.code.startswith("webhook_url") else None, f"{exc.message} ({exc.code})")
        else:
            _remember_secret(request, issued.endpoint, issued.secret)
            return redirect("webhook", webhook_id=issued.endpoint.id)
    context = {"endpoints": webhook_endpoint_list_for(user=request.user), "form": form}
    return render(request, "webhooks/webhooks.html", context)


@never_cache  # shows a new signing secret: never stored by the browser or a cache between
@login_required
@require_http_methods(["GET", "POST"])
def webhook_page(request, webhook_id):
    try:
        endpoint = webhook_endpoint_get_for(user=request.user, endpoint_id=webhook_id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("webhooks")
    initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
    form = WebhookEndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhook_endpoint_update(
                endpoint=endpoint,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
            )
        except ApplicationError as exc:
            form.add_error("url" if exc.code.startswith("webhook_url") else None, f"{exc.message} ({exc.code})")
        else:
            messages.success(request, "Saved.")
            return redirect("webhook", webhook_id=endpoint.id)
    issued = request.session.get(_ISSUED_SESSION_KEY)
    if issued and issued.get("endpoint") == str(endpoint.id):
        request.session.pop(_ISSUED_SESSION_KEY)
    else:
        issued = None
    page = Paginator(webhook_delivery_list_for(endpoint=endpoint), 20).get_page(request.GET.get("page"))
    context = {
        "endpoint": endpoint,
        "form": form,
        "issued": issued,
        "deliveries": page,
        "event_labels": dict(EventType.choices),
    }
    return render(request, "webhooks/webhook.html", context)


def _endpoint_action(request, webhook_id, action):
    try:
        endpoint = webhook_endpoint_get_for(user=request.user, endpoint_id=webhook_id)
        return action(endpoint)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("webhooks")


@login_required
@require_POST
def webhook_rotate_view(request, webhook_id):
    def rotate(endpoint):
        issued = webhook_endpoint_rotate_secret(endpoint=endpoint)
        _remember_secret(request, endpoint, issued.secret)
        return redirect("webhook", webhook_id=endpoint.id)

    return _endpoint_action(request, webhook_id, rotate)


@login_required
@require_POST
def webhook_test_view(request, webhook_id):
    def test(endpoint):
        webhook_test_send(endpoint=endpoint)
        messages.success(request, "A test event is on its way; reload to see how it went.")
        return redirect("webhook", webhook_id=endpoint.id)

    return _endpoint_action(request, webhook_id, test)


@login_required
@require_POST
def webhook_delete_view(request, webhook_id):
    def delete(endpoint):
        webhook_endpoint_delete(endpoint=endpoint)
        messages.success(request, f"Deleted the endpoint {endpoint.url}.")
        return redirect("webhooks")

    return _endpoint_action(request, webhook_id, delete)


@login_required
@require_POST
def delivery_resend_view(request, delivery_id):
    try:
        delivery = webhook_delivery_get_for(user=request.user, delivery_id=delivery_id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("webhooks")
    webhook_delivery_resend(delivery=delivery)
    messages.success(request, f"Sending {delivery.event_type} {delivery.event_id} again.")
    return redirect("webhook", webhook_id=delivery.endpoint_id)
