"""The Webhooks page explains signature checking with a Python function: that function, as the page prints it,
accepts our deliveries and refuses a changed body, a wrong secret and an old timestamp."""

import html
import re
import time

from webhooks.signing import signature_header


def _verify_from_page(client, user):
    client.force_login(user)
    page = client.get("/webhooks/").content.decode()
    assert "README" not in page
    code = html.unescape(re.search(r"<pre><code>(.*?)</code></pre>", page, re.DOTALL).group(1))
    namespace: dict = {}
    exec(compile(code, "webhooks-page", "exec"), namespace)  # noqa: S102 - our own page's example
    return namespace["verify"]


def test_the_pages_verify_function_checks_our_signatures(client, user):
    verify = _verify_from_page(client, user)
    body, now = b'{"id": "evt_1", "type": "job.succeeded"}', int(time.time())

    assert verify("whsec_new", signature_header(secrets=["whsec_new"], timestamp=now, body=body), body)
    # During a rotation's grace period either secret's signature is accepted.
    rotated = signature_header(secrets=["whsec_new", "whsec_old"], timestamp=now, body=body)
    assert verify("whsec_old", rotated, body)
    assert not verify("whsec_new", signature_header(secrets=["whsec_new"], timestamp=now, body=body), body + b" ")
    assert not verify("whsec_other", signature_header(secrets=["whsec_new"], timestamp=now, body=body), body)
    stale = signature_header(secrets=["whsec_new"], timestamp=now - 3600, body=body)
    assert not verify("whsec_new", stale, body)
