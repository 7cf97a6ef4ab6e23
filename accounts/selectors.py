"""Reads for accounts."""

from django.db.models import QuerySet

from .models import ApiKey, User


def api_key_list_for(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at")
