"""Admin pages of rows a submit keeps per process under the account's revision (billing/terms.py): pronunciations
and webhook endpoints. Every save and delete from the admin changes the revision of each account it touches, in the
admin's transaction, like the customers' own changes do (their services)."""

from django.db import transaction

from .services import account_revision_bump


class AccountRevisionAdminMixin:
    """For a ModelAdmin whose model has a `user` foreign key to the account's user."""

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            users = {obj.user_id, *([form.initial.get("user")] if change else [])}
            for user_id in sorted(user for user in users if user is not None):
                account_revision_bump(user_id=user_id)
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        with transaction.atomic():
            account_revision_bump(user_id=obj.user_id)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for user_id in sorted(set(queryset.values_list("user_id", flat=True))):
                account_revision_bump(user_id=user_id)
            super().delete_queryset(request, queryset)
