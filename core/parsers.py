"""JSON request bodies, parsed in one place with a bound on nesting.

Python's JSON decoder recurses once per level: a body nested 10,000 deep raised RecursionError (a 500) in DRF's
parser and in our Stripe webhook. Every JSON body we read goes through `json_document_parse`; DRF's default parser
(`JSONParser` here, set in REST_FRAMEWORK) calls it, and so does anything that reads `request.body` itself.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

# Deeper than any request of ours (or event of Stripe's, about 6) needs, far below the interpreter's recursion
# limit, so later code that walks the data recursively (serializers, renderers) cannot hit it either.
JSON_MAX_DEPTH = 64


class JsonTooDeep(ValueError):
    """The document nests arrays/objects more than JSON_MAX_DEPTH levels."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested too deeply (more than {JSON_MAX_DEPTH} levels).")


def json_depth_exceeds(value: Any, limit: int = JSON_MAX_DEPTH) -> bool:
    """True when `value` (parsed JSON) nests containers more than `limit` levels; iterative, so no recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_document_parse(text: str | bytes, *, parse_constant=None) -> Any:
    """Parse one JSON document; raises ValueError (`JsonTooDeep` for nesting, json's own error otherwise)."""
    try:
        value = json.loads(text, parse_constant=parse_constant)
    except RecursionError as exc:
        raise JsonTooDeep() from exc
    if json_depth_exceeds(value):
        raise JsonTooDeep()
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser through `json_document_parse`: a too-deep body is a ParseError (400 `malformed_json`)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        parse_constant = strict_constant if self.strict else None  # NaN and Infinity are not JSON
        try:
            text = codecs.getreader(encoding)(stream).read()
            return json_document_parse(text, parse_constant=parse_constant)
        except JsonTooDeep as exc:
            raise ParseError(str(exc)) from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
