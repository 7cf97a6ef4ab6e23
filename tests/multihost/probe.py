"""Run on the web host by the multi-host test (`python -m tests.multihost.probe COUNT PLAN`): creates COUNT customers
on PLAN in the cluster's database and prints their API keys as a JSON list."""

import json
import sys

import django

django.setup()

from accounts.services import api_key_create  # noqa: E402
from billing.services import plan_assign  # noqa: E402
from tests.factories import UserFactory  # noqa: E402


def main(count: int, plan: str) -> None:
    secrets = []
    for _ in range(count):
        user = UserFactory()
        plan_assign(user=user, slug=plan)
        secrets.append(api_key_create(user=user, name="multihost").secret)
    sys.stdout.write(json.dumps(secrets) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
