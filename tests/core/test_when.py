"""The `when` template filter: a moment written in UTC, named as such, for common.js to show in local time."""

from datetime import UTC, datetime

from django.template import Context, Template

from core.templatetags.when import when


def test_a_moment_is_written_in_utc_with_the_zone_named():
    moment = datetime(2026, 12, 1, 10, 20, 5, tzinfo=UTC)

    assert when(moment) == '<time datetime="2026-12-01T10:20:05Z" data-local="minutes">2026-12-01 10:20 UTC</time>'
    assert ">2026-12-01 10:20:05 UTC<" in when(moment, "seconds")
    assert ">2026-12-01<" in when(moment, "date")


def test_templates_load_it_and_an_empty_value_falls_back():
    template = Template('{% load when %}{{ used|when|default:"never" }} / {{ made|when }}')

    rendered = template.render(Context({"used": None, "made": "2026-12-01T11:20:00+01:00"}))

    assert rendered == 'never / <time datetime="2026-12-01T10:20:00Z" data-local="minutes">2026-12-01 10:20 UTC</time>'
