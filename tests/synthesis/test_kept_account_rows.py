"""A submit reads the account's pronunciations and webhook endpoints from this process's copy, kept under the
account's revision and confirmed by the account's locked read (billing/terms.py). A change made elsewhere (another
web process, an operator in the admin) decides the very next job: what it says, and which endpoints hear of it.

"Elsewhere" is played here by putting back, after the change, the copy of the account's terms this process held
before it: what any other process still holds at that moment."""

import pytest
from django.test import Client

from billing.models import BillingAccount
from billing.selectors import account_terms_for
from billing.terms import terms_keep
from synthesis.models import Pronunciation
from synthesis.pronunciations import pronunciation_create, pronunciation_delete
from synthesis.runner import synthesis_job_execute
from synthesis.services import synthesis_job_create
from tests.factories import PASSWORD, UserFactory
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_endpoint_create, webhook_endpoint_delete

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "Please call Ngozi before noon."
URL = "https://93.184.215.14/hooks/odiadev"


@pytest.fixture
def pro(pro_unread):
    return pro_unread


def _submit(user, text: str = TEXT):
    return synthesis_job_create(user=user, text=text, voice_id="joe", output_format="mp3")


def _hit(user):
    job = _submit(user)
    assert job.cached is True
    return job


def _as_elsewhere(user, change):
    """Make `change` while this process keeps the account's terms as read before it, as another process does."""
    before = account_terms_for(user=user)
    change()
    terms_keep(user.pk, before)


def test_a_pronunciation_added_elsewhere_is_said_by_the_next_job(pro):
    assert "En go zee" not in _submit(pro).spoken_text  # (this process now keeps the empty dictionary)

    _as_elsewhere(pro, lambda: pronunciation_create(user=pro, word="Ngozi", replacement="En go zee"))

    assert "En go zee" in _submit(pro).spoken_text


def test_a_pronunciation_deleted_elsewhere_is_no_longer_said(pro):
    entry = pronunciation_create(user=pro, word="Ngozi", replacement="En go zee")
    assert "En go zee" in _submit(pro).spoken_text

    _as_elsewhere(pro, lambda: pronunciation_delete(user=pro, pronunciation_id=entry.pk))

    assert "En go zee" not in _submit(pro).spoken_text


def test_an_operator_s_edit_in_the_admin_is_said_by_the_next_job(pro):
    entry = pronunciation_create(user=pro, word="Ngozi", replacement="En go zee")
    assert "En go zee" in _submit(pro).spoken_text
    operator = UserFactory(is_staff=True, is_superuser=True)
    admin = Client()
    admin.login(email=operator.email, password=PASSWORD)
    form = {"user": pro.pk, "word": "Ngozi", "replacement": "Nnn go zee", "whole_word": "on"}

    def edit():
        response = admin.post(f"/admin/synthesis/pronunciation/{entry.pk}/change/", form)
        assert response.status_code == 302, response.content.decode()[:2000]

    _as_elsewhere(pro, edit)

    assert Pronunciation.objects.get(pk=entry.pk).replacement == "Nnn go zee"
    assert "Nnn go zee" in _submit(pro).spoken_text


def test_each_change_gives_the_account_a_new_revision(pro):
    def revision():
        return BillingAccount.objects.get(user=pro).revision

    revisions = [revision()]
    entry = pronunciation_create(user=pro, word="Ngozi", replacement="En go zee")
    revisions.append(revision())
    endpoint = webhook_endpoint_create(user=pro, url=URL, events=["job.succeeded"]).endpoint
    revisions.append(revision())
    pronunciation_delete(user=pro, pronunciation_id=entry.pk)
    revisions.append(revision())
    webhook_endpoint_delete(endpoint=endpoint)
    revisions.append(revision())
    assert len(set(revisions)) == 5


@pytest.fixture
def cached(pro):
    """Audio for TEXT, and a first cache hit (this process now keeps the account's endpoints: none)."""
    assert synthesis_job_execute(job_id=_submit(pro).id) == "succeeded"
    _hit(pro)
    return pro


def test_an_endpoint_registered_elsewhere_hears_of_the_next_cache_hit(cached):
    endpoint = None

    def register():
        nonlocal endpoint
        endpoint = webhook_endpoint_create(user=cached, url=URL, events=["job.succeeded"]).endpoint

    _as_elsewhere(cached, register)
    job = _hit(cached)

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.event_type, delivery.payload["data"]["job"]["id"]) == ("job.succeeded", str(job.id))


def test_an_endpoint_deleted_elsewhere_hears_of_nothing_more_and_the_hit_still_answers(cached):
    endpoint = webhook_endpoint_create(user=cached, url=URL, events=["job.succeeded"]).endpoint
    _hit(cached)  # (kept: the endpoint)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1

    _as_elsewhere(cached, lambda: webhook_endpoint_delete(endpoint=endpoint))
    job = _hit(cached)

    assert job.status == "succeeded"
    assert WebhookDelivery.objects.count() == 0
