"""What the Synthesize page offers an account: its plan's text limit and formats, the voices that can speak for
it now, and why the others cannot. Reads only; the submit service applies the same rules to every request."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from billing.models import Plan
from billing.selectors import plan_for
from voices.selectors import cloned_voices_unavailable_reason, voice_list_for

from .formats import OUTPUT_FORMATS


def text_limit(plan) -> int:
    """The most characters one request may send on `plan`: the plan's limit within the deployment's.

    Characters are counted as `synthesis.cache.text_canonical` leaves the text (Unicode NFC, whitespace runs as one
    space, ends trimmed) and in code points: an emoji is one, "e" + a combining accent is one. static/js/dashboard.js
    counts the same way."""
    return min(settings.TTS_MAX_TEXT_CHARS, plan.max_text_chars)


@dataclass(frozen=True)
class FormatChoice:
    name: str
    allowed: bool
    # Headerless pcm and ulaw: no browser can play them, so the page offers a download and no player.
    playable: bool
    # The cheapest active plan that includes the format, when the account's plan does not.
    unlocked_by: str = ""


def _format_choices(plan) -> list[FormatChoice]:
    others = list(Plan.objects.filter(is_active=True).order_by("sort_order", "price_cents"))
    choices = []
    for name, fmt in OUTPUT_FORMATS.items():
        allowed = name in plan.allowed_formats
        unlocked_by = "" if allowed else next((p.name for p in others if name in p.allowed_formats), "")
        choices.append(FormatChoice(name=name, allowed=allowed, playable=fmt.playable, unlocked_by=unlocked_by))
    return choices


def playground_for(*, user) -> dict:
    """The Synthesize page's options for `user`."""
    plan = plan_for(user=user)
    cloned_reason = cloned_voices_unavailable_reason(plan=plan)
    voices = [voice for voice in voice_list_for(user=user) if voice.status == "active"]
    hidden_cloned = [voice for voice in voices if voice.kind == "cloned"] if cloned_reason else []
    max_chars = text_limit(plan)
    return {
        "plan": plan,
        "max_chars": max_chars,
        "max_chars_display": f"{max_chars:,}",
        "formats": _format_choices(plan),
        # Cloned voices are offered only where they can speak now; otherwise the page says why they are missing.
        "voices": [voice for voice in voices if voice not in hidden_cloned],
        "hidden_cloned_voices": len(hidden_cloned),
        "cloned_voices_reason": cloned_reason,
    }
