"""A local receiver for webhook deliveries (a real HTTP server on 127.0.0.1), and the documented verification code
(docs/webhooks.md)."""

from __future__ import annotations

import re
import socket
import textwrap
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

WEBHOOK_DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def receiver():
    """A threaded HTTP server on 127.0.0.1; `receiver.log` holds each (request, response) it served."""
    server = HTTPServer(host="127.0.0.1", port=_free_port(), threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def local_targets(settings):
    """Lets endpoints point at the local receiver (http on 127.0.0.1), with a short retry schedule."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_SCHEDULE = [0.2, 0.5]
    settings.WEBHOOK_RETRY_WINDOW = 3600
    return settings


@pytest.fixture
def forbid_private_targets(settings):
    """The production default, stated explicitly: the SSRF refusals must hold with it."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    return settings


@pytest.fixture(scope="session")
def verify_signature():
    """`verify_odiadev_signature(body, header, secret, tolerance=300)`, exactly as docs/webhooks.md documents it."""
    blocks = re.findall(r"```python[^\n]*\n(.*?)```", WEBHOOK_DOCS.read_text(), flags=re.S)
    # A block may sit in a list item: indented in the Markdown, dedented here.
    snippet = textwrap.dedent(next(block for block in blocks if "def verify_odiadev_signature" in block))
    namespace: dict = {}
    exec(compile(snippet, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - our own documentation, under test
    return namespace["verify_odiadev_signature"]
