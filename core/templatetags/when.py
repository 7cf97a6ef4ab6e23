"""`{{ value|when }}`: a moment as `<time datetime="…Z" data-local>… UTC</time>`.

The server knows no user's time zone, so it writes UTC and says so; static/js/common.js rewrites the text into the
browser's own time zone with the zone named. Without JavaScript the UTC text stands, still unambiguous.
Precision: "minutes" (default), "seconds", or "date" (the local calendar date, no zone).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

register = template.Library()

FORMATS = {"minutes": "%Y-%m-%d %H:%M UTC", "seconds": "%Y-%m-%d %H:%M:%S UTC", "date": "%Y-%m-%d"}


@register.filter(is_safe=True)
def when(value: datetime | str | None, precision: str = "minutes") -> str:
    """Render a datetime (or an ISO string) as a <time> element; empty for None so `|default:"never"` works."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            return value
        value = parsed
    if not isinstance(value, datetime):
        # A plain date has no time zone to convert: print it as it is.
        return value.isoformat() if isinstance(value, date) else str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    moment = value.astimezone(UTC)
    fmt = FORMATS.get(precision, FORMATS["minutes"])
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return format_html('<time datetime="{}" data-local="{}">{}</time>', iso, precision, moment.strftime(fmt))
