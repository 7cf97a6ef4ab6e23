"""The pronunciation dictionary: managed per account (API and dashboard), applied to what the engine reads, and
part of the cache key through the spoken text."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from accounts.services import api_key_create
from billing.services import plan_assign
from synthesis.runner import synthesis_job_execute
from tests.factories import PASSWORD


def _post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _patch(client, path, body):
    return client.patch(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def other_api(other_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=other_user).secret}")
    return client


# ---------------------------------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------------------------------
def test_create_list_update_delete(api):
    created = _post(api, "/v1/pronunciations", {"word": "ODIADEV", "replacement": "oh dee ah dev"})

    assert created.status_code == 201, created.content
    entry = created.json()
    assert entry["word"] == "ODIADEV"
    assert entry["replacement"] == "oh dee ah dev"
    assert entry["case_sensitive"] is False
    assert entry["whole_word"] is True

    listed = api.get("/v1/pronunciations").json()
    assert [e["id"] for e in listed["pronunciations"]] == [entry["id"]]
    assert listed["max_entries"] == 500

    patched = _patch(api, f"/v1/pronunciations/{entry['id']}", {"replacement": "oh-dee-ah-dev", "case_sensitive": True})
    assert patched.status_code == 200
    assert patched.json()["replacement"] == "oh-dee-ah-dev"
    assert patched.json()["case_sensitive"] is True
    assert patched.json()["word"] == "ODIADEV"
    assert api.get(f"/v1/pronunciations/{entry['id']}").json()["replacement"] == "oh-dee-ah-dev"

    assert api.delete(f"/v1/pronunciations/{entry['id']}").status_code == 204
    assert api.get("/v1/pronunciations").json()["pronunciations"] == []
    assert api.get(f"/v1/pronunciations/{entry['id']}").status_code == 404


def test_another_accounts_entries_do_not_exist_for_you(api, other_api):
    mine = _post(api, "/v1/pronunciations", {"word": "Ade", "replacement": "Ah-day"}).json()
    path = f"/v1/pronunciations/{mine['id']}"

    assert other_api.get("/v1/pronunciations").json()["pronunciations"] == []
    for response in (
        other_api.get(path),
        _patch(other_api, path, {"replacement": "hijacked"}),
        other_api.delete(path),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert api.get(path).json()["replacement"] == "Ah-day"
    # The same word in another account is that account's own entry.
    assert _post(other_api, "/v1/pronunciations", {"word": "Ade", "replacement": "Ade"}).status_code == 201


def test_another_accounts_entries_do_not_change_your_speech(api, other_api):
    _post(other_api, "/v1/pronunciations", {"word": "hello", "replacement": "goodbye"})

    assert _post(api, "/v1/tts", {"text": "hello"}).json()["spoken_text"] == "hello"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"word": "", "replacement": "x"}, 400, "pronunciation_invalid"),
        ({"word": "   ", "replacement": "x"}, 400, "pronunciation_invalid"),
        ({"word": "x"}, 400, "pronunciation_invalid"),
        ({"word": "x" * 101, "replacement": "x"}, 400, "pronunciation_invalid"),
        ({"word": "x", "replacement": "y" * 201}, 400, "pronunciation_invalid"),
        ({"word": "x", "replacement": "y", "whole_word": "perhaps"}, 400, "pronunciation_invalid"),
    ],
)
def test_invalid_entries_are_refused(api, body, status, code):
    response = _post(api, "/v1/pronunciations", body)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert api.get("/v1/pronunciations").json()["pronunciations"] == []


def test_a_word_can_be_entered_once(api):
    first = _post(api, "/v1/pronunciations", {"word": "Lagos", "replacement": "Lay-goss"}).json()
    second = _post(api, "/v1/pronunciations", {"word": "Lagos", "replacement": "Lah-goss"})
    other = _post(api, "/v1/pronunciations", {"word": "Abuja", "replacement": "Ah-boo-jah"}).json()
    renamed = _patch(api, f"/v1/pronunciations/{other['id']}", {"word": "Lagos"})

    assert second.status_code == 409
    assert second.json()["error"]["code"] == "pronunciation_exists"
    assert renamed.status_code == 409
    assert api.get(f"/v1/pronunciations/{first['id']}").json()["replacement"] == "Lay-goss"


def test_a_word_is_one_entry_regardless_of_case(api):
    # given "ODIADEV", which already matches "odiadev", "Odiadev" and every other case
    first = _post(api, "/v1/pronunciations", {"word": "ODIADEV", "replacement": "oh dee ah dev"}).json()
    other = _post(api, "/v1/pronunciations", {"word": "Lagos", "replacement": "Lay-goss"}).json()

    # when the same word comes again in another case, by create or by rename
    lower = _post(api, "/v1/pronunciations", {"word": "odiadev", "replacement": "oh dia dev", "case_sensitive": True})
    renamed = _patch(api, f"/v1/pronunciations/{other['id']}", {"word": "OdiaDev"})
    recased = _patch(api, f"/v1/pronunciations/{first['id']}", {"word": "OdiaDEV"})

    # then both are refused with a stable code naming the entry that exists; the entry itself may change its case
    assert lower.status_code == 409
    error = lower.json()["error"]
    assert error["code"] == "pronunciation_exists"
    assert error["detail"] == {"word": "odiadev", "existing_id": first["id"], "existing_word": "ODIADEV"}
    assert "“ODIADEV”" in error["message"]
    assert renamed.status_code == 409
    assert recased.status_code == 200
    assert [entry["word"] for entry in api.get("/v1/pronunciations").json()["pronunciations"]] == ["Lagos", "OdiaDEV"]


def test_the_dictionary_has_a_limit(api, settings):
    settings.PRONUNCIATIONS_MAX_PER_ACCOUNT = 3
    for word in ("one", "two", "three"):
        assert _post(api, "/v1/pronunciations", {"word": word, "replacement": word.upper()}).status_code == 201

    refused = _post(api, "/v1/pronunciations", {"word": "four", "replacement": "FOUR"})

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "pronunciation_limit_reached"
    assert refused.json()["error"]["detail"] == {"max_entries": 3}
    assert len(api.get("/v1/pronunciations").json()["pronunciations"]) == 3


def test_the_api_needs_credentials(db):
    response = APIClient().get("/v1/pronunciations")

    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "authentication_failed"


def test_the_schema_documents_the_dictionary(client, db):
    schema = client.get("/v1/schema", HTTP_ACCEPT="application/json").content.decode()

    assert "/v1/pronunciations/{pronunciation_id}" in schema
    assert "pronunciations_create" in schema
    assert "normalize" in schema


# ---------------------------------------------------------------------------------------------------------------
# Synthesis
# ---------------------------------------------------------------------------------------------------------------
def test_a_dictionary_change_changes_what_is_said_and_the_cache_key(api, user):
    plan_assign(user=user, slug="pro")
    body = {"text": "Welcome to ODIADEV, 2 days early."}
    first = _post(api, "/v1/tts", body).json()
    synthesis_job_execute(job_id=first["id"])
    repeat = _post(api, "/v1/tts", body).json()
    assert repeat["cached"] is True  # the same request, the same dictionary: answered from the cache

    entry = _post(api, "/v1/pronunciations", {"word": "ODIADEV", "replacement": "oh dee ah dev"}).json()
    after = _post(api, "/v1/tts", body).json()

    assert after["cached"] is False
    assert after["status"] == "queued"
    assert after["text"] == first["text"] == "Welcome to ODIADEV, 2 days early."
    assert first["spoken_text"] == "Welcome to ODIADEV, two days early."
    assert after["spoken_text"] == "Welcome to oh dee ah dev, two days early."

    # Editing the entry changes the speech (and the key) again; deleting it brings the first audio back.
    synthesis_job_execute(job_id=after["id"])
    _patch(api, f"/v1/pronunciations/{entry['id']}", {"replacement": "oh-dee-ah-dev"})
    edited = _post(api, "/v1/tts", body).json()
    assert edited["cached"] is False
    assert edited["spoken_text"] == "Welcome to oh-dee-ah-dev, two days early."

    api.delete(f"/v1/pronunciations/{entry['id']}")
    again = _post(api, "/v1/tts", body).json()
    assert again["cached"] is True
    assert again["spoken_text"] == first["spoken_text"]


def test_the_engine_says_the_replacement(api, user):
    plan_assign(user=user, slug="pro")
    before = _post(api, "/v1/tts", {"text": "Zed."}).json()
    synthesis_job_execute(job_id=before["id"])
    _post(
        api,
        "/v1/pronunciations",
        {"word": "Zed", "replacement": "a much longer way of saying one short word, spoken slowly and clearly"},
    )

    after = _post(api, "/v1/tts", {"text": "Zed."}).json()
    synthesis_job_execute(job_id=after["id"])

    short = api.get(f"/v1/tts/{before['id']}").json()["duration_seconds"]
    long = api.get(f"/v1/tts/{after['id']}").json()["duration_seconds"]
    assert long > 3 * short


def test_an_entry_that_does_not_touch_a_text_keeps_its_cache(api, user):
    plan_assign(user=user, slug="pro")
    first = _post(api, "/v1/tts", {"text": "Nothing to replace here."}).json()
    synthesis_job_execute(job_id=first["id"])

    _post(api, "/v1/pronunciations", {"word": "ODIADEV", "replacement": "oh dee ah dev"})

    assert _post(api, "/v1/tts", {"text": "Nothing to replace here."}).json()["cached"] is True


def test_the_dictionary_applies_without_normalisation(api):
    _post(api, "/v1/pronunciations", {"word": "ODIADEV", "replacement": "oh dee ah dev"})

    job = _post(api, "/v1/tts", {"text": "ODIADEV costs ₦2,500", "normalize": False}).json()

    assert job["spoken_text"] == "oh dee ah dev costs ₦2,500"


def test_a_runaway_expansion_is_refused(api):
    _post(api, "/v1/pronunciations", {"word": "a", "replacement": "b" * 200})

    response = _post(api, "/v1/tts", {"text": "a " * 400})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "spoken_text_too_long"


# ---------------------------------------------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture
def browser(client, user):
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_the_dashboard_page_adds_edits_and_deletes(browser, user):
    assert 'href="/pronunciations/"' in browser.get("/").content.decode()  # in the nav

    added = browser.post(
        "/pronunciations/", {"word": "Adebayo", "replacement": "Ah-day-bah-yo", "whole_word": "on"}, follow=True
    )
    page = added.content.decode()
    assert added.status_code == 200
    assert "Adebayo" in page
    assert "Ah-day-bah-yo" in page
    entry = user.pronunciations.get()
    assert entry.whole_word is True
    assert entry.case_sensitive is False

    edit_page = browser.get(f"/pronunciations/{entry.id}/edit")
    assert edit_page.status_code == 200
    assert "Ah-day-bah-yo" in edit_page.content.decode()
    browser.post(
        f"/pronunciations/{entry.id}/edit",
        {"word": "Adebayo", "replacement": "Ah-deh-bah-yo", "case_sensitive": "on", "whole_word": "on"},
    )
    entry.refresh_from_db()
    assert entry.replacement == "Ah-deh-bah-yo"
    assert entry.case_sensitive is True

    browser.post(f"/pronunciations/{entry.id}/delete")
    assert not user.pronunciations.exists()
    assert "No entries yet." in browser.get("/pronunciations/").content.decode()


def test_the_dashboard_page_shows_refusals(browser, settings):
    browser.post("/pronunciations/", {"word": "Lagos", "replacement": "Lay-goss", "whole_word": "on"})

    duplicate = browser.post("/pronunciations/", {"word": "Lagos", "replacement": "Lah-goss", "whole_word": "on"})

    assert duplicate.status_code == 200
    assert "already have an entry" in duplicate.content.decode()


def test_the_dashboard_refuses_the_same_word_in_another_case_and_says_why(browser, user):
    browser.post("/pronunciations/", {"word": "ODIADEV", "replacement": "oh dee ah dev", "whole_word": "on"})

    refused = browser.post("/pronunciations/", {"word": "odiadev", "replacement": "oh dia dev", "whole_word": "on"})

    page = refused.content.decode()
    assert 'data-testid="form-error"' in page
    assert "You already have an entry for “ODIADEV”" in page
    assert "regardless of case" in page
    assert "“odiadev” is now said as" not in page
    assert list(user.pronunciations.values_list("word", flat=True)) == ["ODIADEV"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_entry_that_applied_and_drops_its_case_twins(user):
    executor = MigrationExecutor(connection)
    executor.migrate([("synthesis", "0012_idempotency_key")])
    try:
        old = executor.loader.project_state([("synthesis", "0012_idempotency_key")]).apps
        Pronunciation = old.get_model("synthesis", "Pronunciation")
        for word, replacement, case_sensitive in [
            ("odiadev", "second", False),
            ("ODIADEV", "first", False),  # "ODIADEV" sorts first: it was the one applied
            ("lagos", "any case", False),
            ("Lagos", "exact", True),  # a case-sensitive entry wins over a case-insensitive one
            ("Abuja", "alone", False),
        ]:
            Pronunciation.objects.create(
                user_id=user.pk, word=word, replacement=replacement, case_sensitive=case_sensitive
            )

        executor = MigrationExecutor(connection)
        executor.migrate([("synthesis", "0014_pronunciation_unique_word_any_case")])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("synthesis"))

    kept = dict(user.pronunciations.values_list("word", "replacement"))
    assert kept == {"ODIADEV": "first", "Lagos": "exact", "Abuja": "alone"}


def test_the_dashboard_cannot_reach_another_accounts_entries(browser, other_api, other_user):
    theirs = _post(other_api, "/v1/pronunciations", {"word": "Ade", "replacement": "Ah-day"}).json()

    assert browser.get(f"/pronunciations/{theirs['id']}/edit").status_code == 404
    assert browser.post(f"/pronunciations/{theirs['id']}/delete").status_code == 404
    assert "Ah-day" not in browser.get("/pronunciations/").content.decode()
    assert other_user.pronunciations.count() == 1
