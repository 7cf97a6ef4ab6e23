"""Health endpoints for load balancers and people."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .services import health_report


@never_cache
@require_GET
def health_live(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health(request):
    overall, body = health_report()
    return JsonResponse(body, status=503 if overall == "down" else 200)
