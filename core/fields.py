"""Serializer fields that take a JSON string only.

DRF's CharField turns a number into its digits (`{"text": 5}` is read as "5"): a client's mistake passes and the
schema's `type: string` is not what the server enforces. Input serializers use these instead of DRF's own; output
serializers need not (they render our data).
"""

from __future__ import annotations

from rest_framework import serializers


class StrictStringMixin:
    """Refuse anything but a str before the field's own checks ("Not a valid string.")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StrictStringMixin, serializers.CharField):
    pass


class StrictSlugField(StrictStringMixin, serializers.SlugField):
    pass


class StrictURLField(StrictStringMixin, serializers.URLField):
    pass


class StrictChoiceField(serializers.ChoiceField):
    """A choice given as a string (DRF's would match 1 to "1")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)
