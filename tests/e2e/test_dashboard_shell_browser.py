"""The dashboard's shell in a real browser: every page fits a 390 px phone (no sideways scrolling; a checkbox on the
line of its words), every form control has an accessible name, copy buttons copy, times are shown in the browser's
own time zone with the zone named, and dark mode follows the system setting."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.services import api_key_create
from ops.models import OpsAction
from synthesis.pronunciations import pronunciation_create
from tests.factories import ActiveVoiceFactory, QueuedJobFactory, SucceededJobFactory, UserFactory
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services import webhook_endpoint_create

from .browser import browser_page, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Not is_mobile: a mobile viewport zooms out to fit wide content, which would hide the overflow being tested.
PHONE = {"viewport": {"width": 390, "height": 844}}
LONG_TEXT = (
    "On Monday the committee of the Lagos State Ministry of Transportation reconvened at 09:30 to review the "
    "₦2,500,000 budget for the Third Mainland Bridge maintenance programme and its supercalifragilistic annex."
)
PUBLIC_HOOK = "https://93.184.215.14/hooks/odiadev/a-rather-long-path/that-goes-on/and-on?token=abcdefghijklmnop"


@pytest.fixture
def account(stack):
    """A staff customer with something on every page (long texts, long URLs), made before the browser starts."""
    user = UserFactory(is_staff=True, email="a.rather.long.customer.address@example-company.com")
    SucceededJobFactory(user=user, text=LONG_TEXT, output_format="mp3")
    QueuedJobFactory(
        user=user,
        text="This one failed.",
        status="failed",
        error_code="engine_unavailable",
        error_message="No worker serves this engine right now; the characters were refunded.",
    )
    api_key_create(user=user, name="production server in the Lagos data centre")
    endpoint = webhook_endpoint_create(
        user=user, url=PUBLIC_HOOK, events=["job.succeeded", "job.failed"], description="staging receiver"
    ).endpoint
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id="evt_0123456789abcdef0123456789abcdef",
        event_type="job.succeeded",
        payload={"id": "evt_0123456789abcdef0123456789abcdef", "type": "job.succeeded", "data": {}},
        status="failed",
        attempts=1,
        give_up_at=timezone.now() - timedelta(hours=1),
        last_status_code=503,
        last_error="Service Unavailable: the upstream load balancer had no healthy backend for this request",
    )
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, url=PUBLIC_HOOK, status_code=503, error_code="http_status", error="503"
    )
    entry = pronunciation_create(user=user, word="ODIADEV", replacement="oh dee ah dev")
    ActiveVoiceFactory(user=user, name="My newsreader voice")
    OpsAction.objects.create(kind="clear_cache", actor=user.email, user=user, reason="a test", detail={"keys": 3})
    return user, endpoint, entry


def dashboard_pages(endpoint, entry) -> list[str]:
    return [
        "/",
        "/history/",
        "/voices/",
        "/pronunciations/",
        f"/pronunciations/{entry.id}/edit",
        "/keys/",
        "/webhooks/",
        f"/webhooks/{endpoint.id}/",
        "/billing/",
        "/provenance/",
        "/account/",
        "/account/two-factor/",
        "/password_change/",
        "/ops/",
    ]


LOGGED_OUT_PAGES = ["/login/", "/signup/", "/password_reset/"]

# Elements wider than the window, outside a container that scrolls them: what makes a page scroll sideways.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const culprits = [], inScrollers = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 0.5) continue;
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
    }
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                 (el.className && typeof el.className === 'string' ? '.' + el.className : '') +
                 ' right=' + Math.round(r.right);
    (clipped ? inScrollers : culprits).push(name);
  }
  // An absolutely positioned element escapes a scroller that is not its containing block: list those too.
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width,
          culprits: (culprits.length ? culprits : inScrollers).slice(0, 8)};
}"""

# A checkbox whose words start on another line than the box (the bug: the box alone above its label).
CHECKBOX_LINES = """() => {
  const bad = [];
  for (const box of document.querySelectorAll('label input[type=checkbox]')) {
    const label = box.closest('label');
    const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
    let node, text = null;
    while ((node = walker.nextNode())) {
      if (node.textContent.trim() && (box.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING)) {
        text = node; break;
      }
    }
    if (!text || box.getClientRects().length === 0) continue;
    const range = document.createRange();
    range.selectNodeContents(text);
    const first = range.getClientRects()[0];
    const b = box.getBoundingClientRect();
    if (!(first.top < b.bottom && first.bottom > b.top)) bad.push(label.textContent.trim().slice(0, 40));
  }
  return bad;
}"""

# The accessible name of each form control from what assistive technology reads: aria-label, aria-labelledby, its
# <label>s (without the text of controls inside them, such as a select's options), a button's text, a title.
UNNAMED_CONTROLS = """() => {
  const labelText = (label) => {
    const copy = label.cloneNode(true);
    copy.querySelectorAll('select, textarea, option, input').forEach((c) => c.remove());
    return copy.textContent.trim();
  };
  const nameOf = (el) => {
    const aria = (el.getAttribute('aria-label') || '').trim();
    if (aria) return aria;
    const by = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
      .map((id) => document.getElementById(id)).filter(Boolean).map((e) => e.textContent.trim()).join(' ').trim();
    if (by) return by;
    const labels = el.labels ? Array.from(el.labels).map(labelText).join(' ').trim() : '';
    if (labels) return labels;
    if (el.tagName === 'BUTTON' && el.textContent.trim()) return el.textContent.trim();
    if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type) && el.value) return el.value;
    return (el.getAttribute('title') || '').trim();
  };
  return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button, audio'))
    .filter((el) => !nameOf(el)).map((el) => el.outerHTML.slice(0, 200));
}"""

# Chromium's own accessibility tree agrees: no focusable control role without a name.
CONTROL_ROLES = {"button", "textbox", "combobox", "checkbox", "radio", "slider", "spinbutton", "searchbox", "listbox"}


def _unnamed_in_accessibility_tree(page: Page) -> list[str]:
    session = page.context.new_cdp_session(page)
    try:
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    unnamed = []
    for node in nodes:
        role = (node.get("role") or {}).get("value")
        name = ((node.get("name") or {}).get("value") or "").strip()
        if role in CONTROL_ROLES and not node.get("ignored") and not name:
            unnamed.append(role)
    return unnamed


def _layout_problems(page: Page, path: str) -> list[str]:
    problems = []
    found = page.evaluate(OVERFLOW)
    assert found["innerWidth"] == 390
    if found["scrollWidth"] > found["innerWidth"]:
        problems.append(f"{path}: scrollWidth {found['scrollWidth']} > {found['innerWidth']}: {found['culprits']}")
    for label in page.evaluate(CHECKBOX_LINES):
        problems.append(f"{path}: checkbox on another line than its label {label!r}")
    return problems


def test_every_dashboard_page_fits_a_390px_phone(stack, account):
    user, endpoint, entry = account
    problems: list[str] = []
    with browser_page(stack.base_url, context_options=PHONE) as page:
        for path in LOGGED_OUT_PAGES:
            page.goto(path)
            problems += _layout_problems(page, path)
        log_in(page, user.email)
        for path in dashboard_pages(endpoint, entry):
            page.goto(path)
            expect(page.locator("h1").first).to_be_visible()
            problems += _layout_problems(page, path)
        assert not problems, "\n".join(problems)

        # Pages as they are right after creating a key and an endpoint: the secret, shown once, fits too.
        page.goto("/keys/")
        page.fill("input[name=name]", "phone")
        page.click("text=Create key")
        expect(page.locator("#new-key-secret")).to_be_visible()
        problems += _layout_problems(page, "/keys/ (new key)")
        page.goto("/webhooks/")
        page.fill("input[name=url]", PUBLIC_HOOK + "&second=1")
        page.click("text=Add endpoint")
        expect(page.locator("#webhook-secret")).to_be_visible()
        problems += _layout_problems(page, "webhook (new secret)")

        # A wide table really is the one that scrolls, inside its card (History stacks its rows instead).
        page.goto("/billing/")
        scroller = page.locator(".table-scroll").first
        assert scroller.evaluate("el => el.scrollWidth > el.clientWidth"), "the plans table should scroll"
    assert not problems, "\n".join(problems)


def test_every_form_control_has_an_accessible_name(stack, account):
    user, endpoint, entry = account
    unnamed: dict[str, list[str]] = {}
    with browser_page(stack.base_url) as page:
        for path in LOGGED_OUT_PAGES:
            page.goto(path)
            unnamed[path] = page.evaluate(UNNAMED_CONTROLS) + _unnamed_in_accessibility_tree(page)
        log_in(page, user.email)
        for path in dashboard_pages(endpoint, entry):
            page.goto(path)
            expect(page.locator("h1").first).to_be_visible()
            unnamed[path] = page.evaluate(UNNAMED_CONTROLS) + _unnamed_in_accessibility_tree(page)

        # The speed slider says what it is; a keyboard user sees where the focus is.
        page.goto("/")
        expect(page.locator("#tts-speed")).to_have_accessible_name(re.compile("Speed"))
        page.locator("#tts-text").focus()
        page.keyboard.press("Tab")
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("none", ""), "a focused control shows a focus ring"

        # Status changes are announced: the error after a refused text is in a polite live region.
        page.fill("#tts-text", "   ")
        page.click("#tts-submit")
        expect(page.locator("#job-error")).not_to_be_empty()
        live = page.evaluate("() => document.getElementById('job-error').closest('[aria-live]')?.ariaLive")
        assert live == "polite"
        assert page.evaluate("() => document.getElementById('job-status').closest('[aria-live]') !== null")
    assert not {path: names for path, names in unnamed.items() if names}


def test_copy_buttons_copy_the_key_and_the_secret_and_say_so(stack, account):
    user, _, _ = account
    with browser_page(stack.base_url, permissions=("clipboard-read", "clipboard-write")) as page:
        log_in(page, user.email)
        page.goto("/keys/")
        page.fill("input[name=name]", "copy me")
        page.click("text=Create key")
        secret = page.locator("#new-key-secret").text_content().strip()
        page.get_by_test_id("copy-new-key").click()
        expect(page.get_by_test_id("copy-new-key")).to_have_text("Copied")
        expect(page.locator("#announcer")).to_have_text("Copied")  # the live region screen readers read
        assert page.evaluate("() => navigator.clipboard.readText()") == secret
        expect(page.get_by_test_id("copy-new-key")).to_have_text("Copy key", timeout=5_000)

        page.goto("/webhooks/")
        page.fill("input[name=url]", PUBLIC_HOOK + "&copy=1")
        page.click("text=Add endpoint")
        webhook_secret = page.locator("#webhook-secret").text_content().strip()
        assert webhook_secret
        page.get_by_test_id("copy-webhook-secret").click()
        expect(page.get_by_test_id("copy-webhook-secret")).to_have_text("Copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == webhook_secret


def _local(iso: str, zone: str, fmt: str) -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(zone)).strftime(fmt)


def test_times_are_shown_in_the_browsers_time_zone_with_the_zone_named(stack, account):
    user, endpoint, _ = account
    zone = "Asia/Kolkata"  # UTC+5:30: a half-hour offset shows the minutes are converted too
    options = {"timezone_id": zone, "locale": "en-US"}
    with browser_page(stack.base_url, context_options=options) as page:
        log_in(page, user.email)
        page.goto("/keys/")
        created = page.locator("table tbody time").first
        iso = created.get_attribute("datetime")
        assert iso.endswith("Z")
        expect(created).to_have_text(_local(iso, zone, "%Y-%m-%d %H:%M") + " GMT+5:30")
        # Chromium's ICU may name the zone by its older alias.
        assert re.search(r"your time zone: Asia/(Kolkata|Calcutta)", created.get_attribute("title"))
        assert "UTC" in created.get_attribute("title")
        expect(page.locator("table tbody")).to_contain_text("never")  # a key not used yet

        page.goto("/history/")
        first = page.locator("table tbody time").first
        expect(first).to_have_text(_local(first.get_attribute("datetime"), zone, "%Y-%m-%d %H:%M:%S") + " GMT+5:30")

        page.goto(f"/webhooks/{endpoint.id}/")
        for time in page.locator("time").all():
            expect(time).to_have_text(re.compile(r"GMT\+5:30$"))

    # Without JavaScript the server's text stands, and it names its zone.
    with browser_page(stack.base_url, context_options={"java_script_enabled": False}) as page:
        log_in(page, user.email)
        page.goto("/keys/")
        text = page.locator("table tbody time").first.text_content()
        iso = page.locator("table tbody time").first.get_attribute("datetime")
        assert text == _local(iso, "UTC", "%Y-%m-%d %H:%M") + " UTC"


def _luminance(css_colour: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css_colour)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


COLOURS = """() => {
  const s = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
  return {body: s('body', 'backgroundColor'), ink: s('body', 'color'), card: s('.card', 'backgroundColor'),
          link: s('main a', 'color'), hint: s('.hint', 'color')};
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_colour_scheme_follows_the_system_and_stays_readable(stack, account, scheme):
    user, _, _ = account
    with browser_page(stack.base_url, context_options={"color_scheme": scheme}) as page:
        log_in(page, user.email)
        page.goto("/keys/")
        colours = page.evaluate(COLOURS)
    if scheme == "dark":
        assert _luminance(colours["body"]) < 0.05, colours
        assert _luminance(colours["card"]) < 0.05, colours
    else:
        assert _luminance(colours["body"]) > 0.8, colours
    for part in ("ink", "link", "hint"):
        assert _contrast(colours[part], colours["card"]) >= 4.5, (part, colours)
