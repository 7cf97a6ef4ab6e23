"""manage.py ensure_demo: the demo login and API key that `make run` prints (idempotent)."""

from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import api_key_create
from billing.services import plan_assign

DEMO_EMAIL = "demo@odiadev.local"
DEMO_PASSWORD = "demo-password-123"  # noqa: S105 - a published demo credential for the local embedded mode


class Command(BaseCommand):
    help = "Create the demo account and a demo API key if they do not exist yet, and print them."

    def handle(self, *args, **options):
        user = User.objects.filter(email=DEMO_EMAIL).first()
        created = user is None
        if created:
            user = User.objects.create_superuser(email=DEMO_EMAIL, password=DEMO_PASSWORD)
            # On a plan that includes cloning, so the demo shows every feature.
            plan_assign(user=user, slug="pro")
        self.stdout.write(f"Demo login:    {DEMO_EMAIL} / {DEMO_PASSWORD}  (staff: the admin works too)")
        if created or not user.api_keys.filter(name="demo", revoked_at__isnull=True).exists():
            issued = api_key_create(user=user, name="demo")
            self.stdout.write(f"Demo API key:  {issued.secret}  (shown once)")
        else:
            self.stdout.write(
                "Demo API key:  already issued earlier (shown once then). New one: "
                f"python manage.py create_api_key --email {DEMO_EMAIL}"
            )
