"""Plans: the shipped catalog is seeded, accounts start on Free, an operator can assign another plan."""

from billing.models import Plan
from billing.selectors import plan_for
from billing.services import plan_assign


def test_catalog_is_seeded(db):
    plans = {plan.slug: plan for plan in Plan.objects.all()}

    assert list(plans) == ["free", "starter", "pro", "business"]
    assert plans["free"].allows_cloning is False
    assert plans["free"].watermarked is True
    assert plans["free"].cloned_voice_slots == 0
    assert all(plans[slug].allows_cloning and not plans[slug].watermarked for slug in ("starter", "pro", "business"))


def test_new_accounts_are_on_free_until_assigned(user, other_user):
    assert plan_for(user=user).slug == "free"

    plan_assign(user=user, slug="pro", assigned_by=other_user)

    assert plan_for(user=user).slug == "pro"
    assert plan_for(user=other_user).slug == "free"
