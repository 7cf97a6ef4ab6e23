"""A cache hit of `POST /v1/tts` costs few SQL queries: hits are most of the traffic, and each query is a round trip.

Measured on this path before the work on issue 13: 20 statements (BEGIN, COMMIT and savepoints included). Now: the
API key comes from the shared cache, the account's plan and watermark rule, pronunciations and webhook endpoints from
this process's copy (confirmed under the account's lock: billing/terms.py), the cache source is read once (locked, in
the transaction), the account is admitted and charged in one conditional UPDATE (billing.services.usage_take), and
the hit's reservation and capture are written in one INSERT without reading them back."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import BillingAccount, EntryKind, LedgerEntry
from synthesis.models import SynthesisJob
from synthesis.runner import synthesis_job_execute

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "A sentence asked for again and again, answered from the cache."
# Statements of one cache hit, BEGIN and COMMIT included: API key 0 (cached), account 0 (the process's copy of its
# terms), pronunciations 0 (kept), BEGIN, cache source (locked) 1, account admitted and charged 1, job insert 1,
# reserve + capture 1, webhook endpoints 0 (kept), COMMIT. An upper bound: it fails when a change adds one.
CACHE_HIT_STATEMENTS = 6


@pytest.fixture
def pro(pro_unread):
    return pro_unread


def _post(api):
    return api.post("/v1/tts", {"text": TEXT, "voice_id": "joe", "format": "mp3"}, format="json")


def test_a_cache_hit_costs_at_most_six_statements_and_is_billed_exactly(pro, api, monkeypatch):
    # The operators' limits are read once per process every LIMIT_CACHE_SECONDS, not per request: kept for the test,
    # so that a slow machine's pause between the requests below does not put that periodic read into the count.
    monkeypatch.setattr("controls.limits.LIMIT_CACHE_SECONDS", 3600.0)
    # given audio for the text, and a process that has served this key before
    first = _post(api)
    assert first.status_code == 202, first.content
    assert synthesis_job_execute(job_id=first.json()["id"]) == "succeeded"
    assert _post(api).json()["cached"] is True
    balance = BillingAccount.objects.get(user=pro).balance

    # when the same request comes again
    with CaptureQueriesContext(connection) as queries:
        response = _post(api)

    # then it is answered from the cache within the bound
    body = response.json()
    assert body["cached"] is True, body
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) <= CACHE_HIT_STATEMENTS, "\n".join(statement[:160] for statement in statements)
    # and billed exactly: its characters reserved and captured, once, and taken off the balance
    job = SynthesisJob.objects.get(pk=body["id"])
    assert sorted(LedgerEntry.objects.filter(job=job).values_list("kind", "amount", "cached")) == sorted(
        [(EntryKind.RESERVE, -job.characters, True), (EntryKind.CAPTURE, 0, True)]
    )
    assert BillingAccount.objects.get(user=pro).balance == balance - job.characters
