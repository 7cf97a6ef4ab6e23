"""Headless Chromium (Debian's) driven by Playwright, for the dashboard tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Page, expect, sync_playwright

from tests.factories import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@contextmanager
def browser_page(
    base_url: str,
    *,
    extra_args: tuple[str, ...] = (),
    permissions: tuple[str, ...] = (),
    context_options: dict | None = None,
) -> Iterator[Page]:
    """A fresh browser and page on the live server. Set up database rows before entering: the database is not
    to be used while Playwright's event loop runs. Fails on leaving if the console reported a policy violation.
    `context_options` go to Playwright's new_context (viewport, color_scheme, timezone_id, locale, ...)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
        )
        context = browser.new_context(base_url=base_url, permissions=list(permissions), **(context_options or {}))
        page = context.new_page()
        page.set_default_timeout(30_000)
        violations: list[str] = []
        page.on("console", lambda message: _note_policy_violation(violations, message.text))
        try:
            yield page
        finally:
            browser.close()
        # Every page must work under its Content-Security-Policy and Permissions-Policy: a refused script, style,
        # connection or feature is a broken page even when the test's own checks happened not to notice.
        assert not violations, "policy violations in the browser console:\n" + "\n".join(violations)


# What Chromium writes to the console when a page breaks its Content-Security-Policy ("Refused to execute inline
# script because it violates the following Content Security Policy directive ...") or Permissions-Policy.
POLICY_VIOLATION_MARKS = ("Content Security Policy", "Permissions policy violation", "Permissions-Policy")


def _note_policy_violation(violations: list[str], text: str) -> None:
    if any(mark in text for mark in POLICY_VIOLATION_MARKS):
        violations.append(text)


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Synthesize")
