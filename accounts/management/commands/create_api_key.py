"""manage.py create_api_key --email E [--name N]: print a new API key, creating the user if needed."""

from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import api_key_create, user_create


class Command(BaseCommand):
    help = "Create an API key for a user (created without a password if new) and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="CLI key")

    def handle(self, *args, email, name, **options):
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            user = user_create(email=email, password=None)
            self.stderr.write(f"Created user {user.email} (no password: set one with changepassword).")
        issued = api_key_create(user=user, name=name)
        self.stderr.write(f"API key {issued.api_key.name!r} for {user.email} — shown once:")
        self.stdout.write(issued.secret)
