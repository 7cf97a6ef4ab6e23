"""Dia-1.6B through transformers' DiaForConditionalGeneration: dialogue, nonverbals, cloning by audio prompt.

Weights come from `model_id` at a pinned `revision` (a local folder, or a hub id fetched at deploy time with a
token); the DAC codec likewise from `codec_id`. bf16 on CUDA, fp32 on CPU, 8-bit through bitsandbytes on request.
Cloning: the reference audio and its transcript go before the new text, and the model continues in that voice.
Long text is cut at sentence boundaries into chunks of about `chunk_seconds`, each generated with the same prompt
and the same seed, so the voice does not drift.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech.errors import EngineError
from speech.text import dialogue_chunks

from .base import EngineCapabilities, EngineVoice, PcmChunk, SynthesisRequest, VoicePrompt

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
# Dia speaks roughly this many characters of English text per second of audio; used to size chunks.
CHARS_PER_SECOND = 14.0
TOKENS_PER_SECOND = 86  # DAC frames per second at 44.1 kHz with hop 512


class GpuOutOfMemory(EngineError):
    code = "gpu_out_of_memory"


@dataclass(frozen=True)
class GenerationSettings:
    guidance_scale: float = 3.0
    temperature: float = 1.8
    top_p: float = 0.9
    top_k: int = 45
    chunk_seconds: float = 20.0
    max_new_tokens: int | None = None  # None: enough for one chunk (chunk_seconds of audio)


class DiaEngine:
    name = "dia"
    capabilities = EngineCapabilities(cloning=True, streaming=False, gpu=True)

    def __init__(
        self,
        model_id: str = "nari-labs/Dia-1.6B-0626",
        revision: str = "main",
        codec_id: str = "descript/dac_44khz",
        codec_revision: str = "main",
        token: str | None = None,
        use_bnb: bool = False,
        device: str | None = None,
        vram_budget_gb: float = 14.5,
        generation: GenerationSettings | dict | None = None,
    ) -> None:
        self.model_id = model_id
        self.model_revision = revision
        self.codec_id = codec_id
        self.codec_revision = codec_revision
        self.token = token or None
        self.use_bnb = use_bnb
        self.requested_device = device
        self.vram_budget_gb = vram_budget_gb
        if isinstance(generation, dict):
            generation = GenerationSettings(**{k: v for k, v in generation.items() if v is not None})
        self.generation = generation or GenerationSettings()
        self.device = "cpu"
        self.dtype_name = "float32"
        self._model = None
        self._processor = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------------------
    # Loading
    # ------------------------------------------------------------------------------------------------------
    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import (
                DacModel,
                DiaFeatureExtractor,
                DiaForConditionalGeneration,
                DiaProcessor,
                DiaTokenizer,
            )

            if self.model_revision == "main" and not Path(self.model_id).is_dir():
                logger.warning(
                    "DIA_MODEL_REV is 'main' for %s: the weights can change under you. Pin a commit in production.",
                    self.model_id,
                )
            self.device = self.requested_device or ("cuda" if torch.cuda.is_available() else "cpu")
            on_cuda = self.device.startswith("cuda")
            kwargs: dict = {"revision": self.model_revision, "token": self.token}
            if on_cuda and self.use_bnb:
                from transformers import BitsAndBytesConfig

                kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
                kwargs["device_map"] = self.device
                self.dtype_name = "int8"
            else:
                kwargs["dtype"] = torch.bfloat16 if on_cuda else torch.float32
                self.dtype_name = "bfloat16" if on_cuda else "float32"
            model = DiaForConditionalGeneration.from_pretrained(self.model_id, **kwargs)
            if "device_map" not in kwargs:
                model = model.to(self.device)
            model.eval()
            # The processor is assembled here rather than loaded, because a saved DiaProcessor records the
            # codec by absolute path; the codec is named by its own id and revision instead.
            codec = DacModel.from_pretrained(self.codec_id, revision=self.codec_revision, token=self.token)
            codec = codec.to(self.device).eval()
            self._processor = DiaProcessor(
                feature_extractor=DiaFeatureExtractor(sampling_rate=SAMPLE_RATE, hop_length=512),
                tokenizer=DiaTokenizer(),
                audio_tokenizer=codec,
            )
            self._model = model
            vram = self.vram()
            logger.info(
                "DIA model loaded: %s@%s on %s (%s); VRAM %.2f GB of %.1f GB budget",
                self.model_id,
                self.model_revision,
                self.device,
                self.dtype_name,
                vram["used_gb"],
                vram["budget_gb"],
            )

    def vram(self) -> dict:
        """GPU memory held by this process against the budget (zeros on CPU)."""
        import torch

        used = peak = 0.0
        if self.device.startswith("cuda") and torch.cuda.is_available():
            used = torch.cuda.memory_allocated(self.device) / 1e9
            peak = torch.cuda.max_memory_allocated(self.device) / 1e9
        return {
            "used_gb": used,
            "peak_gb": peak,
            "budget_gb": self.vram_budget_gb,
            "over_budget": peak > self.vram_budget_gb,
        }

    def voices(self) -> list[EngineVoice]:
        # Dia has no fixed voices: without a prompt it invents one; with a prompt it clones it.
        return [EngineVoice(id="dia", language="en", sample_rate=SAMPLE_RATE)]

    # ------------------------------------------------------------------------------------------------------
    # Synthesis
    # ------------------------------------------------------------------------------------------------------
    def segments(self, text: str, *, max_chars: int = 0) -> list[str]:
        """Dialogue-aware pieces of about one generation (`chunk_seconds`); `max_chars` does not apply."""
        return dialogue_chunks(text, max(40, int(self.generation.chunk_seconds * CHARS_PER_SECOND)))

    def synthesize(self, request: SynthesisRequest) -> Iterator[PcmChunk]:
        import torch

        self.load()
        prompt = request.prompt
        settings = self.generation
        max_new_tokens = settings.max_new_tokens or int(settings.chunk_seconds * TOKENS_PER_SECOND * 1.2)
        for chunk in self.segments(request.text):
            if request.seed is not None:
                # The same seed for every chunk keeps the delivery consistent across the whole text.
                torch.manual_seed(request.seed)
            try:
                yield PcmChunk(samples=self._generate(chunk, prompt, max_new_tokens), sample_rate=SAMPLE_RATE)
            except torch.cuda.OutOfMemoryError as exc:
                torch.cuda.empty_cache()
                raise GpuOutOfMemory("The GPU ran out of memory for this job.") from exc

    def _generate(self, text: str, prompt: VoicePrompt | None, max_new_tokens: int) -> np.ndarray:
        import torch

        settings = self.generation
        if prompt is not None:
            inputs = self._processor(
                text=[f"{prompt.transcript.strip()} {text}"],
                audio=[prompt.audio],
                padding=True,
                return_tensors="pt",
            )
        else:
            inputs = self._processor(text=[text], padding=True, return_tensors="pt")
        inputs = inputs.to(self.device)
        with torch.inference_mode():
            output = self._model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                guidance_scale=settings.guidance_scale,
                temperature=settings.temperature,
                top_p=settings.top_p,
                top_k=settings.top_k,
                do_sample=True,
            )
        prompt_len = (
            self._processor.get_audio_prompt_len(inputs["decoder_attention_mask"]) if prompt is not None else None
        )
        try:
            decoded = self._processor.batch_decode(output, audio_prompt_len=prompt_len)
        except (RuntimeError, IndexError):
            if self._generated_frames(output, prompt_len) > max(self._model.config.delay_pattern):
                raise
            # The model stopped before every codebook produced a frame (Dia delays codebooks by up to 15 steps),
            # so the codec has nothing whole to decode. The runner fails a job whose chunks are all empty with a
            # clear error instead of a codec crash.
            return np.zeros(0, dtype=np.float32)
        audio = decoded[0]
        if hasattr(audio, "detach"):
            audio = audio.detach().float().cpu().numpy()
        return np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)

    def _generated_frames(self, output, prompt_len) -> int:
        """Frames between the prompt (or BOS) and the padding/EOS of the first sequence, as Dia's decoder counts."""
        decoder = self._model.config.decoder_config
        first_channel = output[0, :, 0]
        start = int(prompt_len) if prompt_len is not None else int((first_channel == decoder.bos_token_id).sum())
        end = output.shape[1] - int((first_channel == decoder.pad_token_id).sum()) - 1
        return end - start
