"""The SDK's webhook check accepts what the server's own signer produces, and nothing else."""

from __future__ import annotations

import json
import time

import pytest
from odiadev_sdk import SIGNATURE_HEADER, WebhookVerificationError, verify_webhook

from webhooks import signing

BODY = json.dumps({"id": "evt_1", "type": "job.succeeded", "data": {"job": {"id": "j1"}}}).encode()


def test_a_signature_by_the_server_signer_verifies_and_yields_the_event():
    now = int(time.time())
    header = signing.signature_header(secrets=["whsec_current"], timestamp=now, body=BODY)

    assert SIGNATURE_HEADER == signing.SIGNATURE_HEADER
    assert verify_webhook(BODY, header, "whsec_current")["type"] == "job.succeeded"


def test_during_a_secret_rotation_either_secret_verifies():
    now = int(time.time())
    header = signing.signature_header(secrets=["whsec_new", "whsec_old"], timestamp=now, body=BODY)

    assert verify_webhook(BODY, header, "whsec_old")["id"] == "evt_1"
    assert verify_webhook(BODY, header, "whsec_new")["id"] == "evt_1"
    assert verify_webhook(BODY.decode(), header, ["whsec_unrelated", "whsec_new"])["id"] == "evt_1"


@pytest.mark.parametrize(
    ("body", "secret", "age", "header_override"),
    [
        (BODY.replace(b"j1", b"j2"), "whsec_current", 0, None),  # body changed after signing
        (BODY, "whsec_wrong", 0, None),  # another endpoint's secret
        (BODY, "whsec_current", 301, None),  # an old delivery replayed
        (BODY, "whsec_current", 0, ""),  # no header
        (BODY, "whsec_current", 0, "v1=abc"),  # no timestamp
        (BODY, "whsec_current", 0, "t=notanumber,v1=abc"),
    ],
)
def test_tampered_foreign_stale_or_malformed_deliveries_are_refused(body, secret, age, header_override):
    signed_at = int(time.time()) - age
    header = signing.signature_header(secrets=["whsec_current"], timestamp=signed_at, body=BODY)

    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, header if header_override is None else header_override, secret)
