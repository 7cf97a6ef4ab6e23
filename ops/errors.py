"""Operator action errors with stable codes."""

from core.exceptions import InvalidRequest


class ReasonRequired(InvalidRequest):
    code = "reason_required"
    default_message = "Say why: every operator action is recorded with its reason."


class UnknownSwitch(InvalidRequest):
    code = "unknown_switch"
