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
    base_url: str, *, extra_args: tuple[str, ...] = (), permissions: tuple[str, ...] = ()
) -> Iterator[Page]:
    """A fresh browser and page on the live server. Set up database rows before entering: the database is not
    to be used while Playwright's event loop runs."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
        )
        page = browser.new_context(base_url=base_url, permissions=list(permissions)).new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Synthesize")
