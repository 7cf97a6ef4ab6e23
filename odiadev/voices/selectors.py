"""Reads for the voice catalog.

Built-in voices are configuration (`settings.BUILTIN_VOICES`): the web tier knows each voice's engine, model and
version by name without importing any engine. Cloned voices (per account, in the database) join this list later.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from .errors import VoiceNotFound


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    engine: str
    engine_voice: str
    language: str
    kind: str
    version: int
    model_id: str
    model_revision: str
    sample_rate: int
    gender: str = ""
    description: str = ""


def _builtin_voices() -> list[Voice]:
    return [
        Voice(
            id=voice_id,
            name=spec["name"],
            engine=spec["engine"],
            engine_voice=spec["engine_voice"],
            language=spec["language"],
            kind="builtin",
            version=int(spec["version"]),
            model_id=spec["model_id"],
            model_revision=spec["model_revision"],
            sample_rate=int(spec["sample_rate"]),
            gender=spec.get("gender", ""),
            description=spec.get("description", ""),
        )
        for voice_id, spec in settings.BUILTIN_VOICES.items()
    ]


def voice_list_for(*, user) -> list[Voice]:
    # `user` will select the account's cloned voices; every account sees the built-in ones.
    return _builtin_voices()


def voice_get_for(*, user, voice_id: str) -> Voice:
    for voice in voice_list_for(user=user):
        if voice.id == voice_id:
            return voice
    raise VoiceNotFound(detail={"voice_id": voice_id})
