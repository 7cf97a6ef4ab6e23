"""Word timestamps of a job and the captions made from them. Plain functions (no engine): the web tier builds a
job's words at submit (which spoken words say each word as sent) and for cache hits, the worker when the audio is
made (`speech.timestamps` times the spoken words), and the captions endpoints format them.

Rules in one place:
- Which engines can time words: `ENGINES_WITH_ALIGNMENTS` (Piper reports phoneme alignments). Others (Dia) are
  timed by the speech recogniser on their output (`speech.timestamps.heard_word_times`) while
  TTS_TIMESTAMPS_RECOGNISER is on; off, they are refused up front with 400 `timestamps_unavailable`.
- The cache: `timestamps` is not part of the cache key (the audio is the same). A cached job answers a timestamps
  request only if it has its spoken-word times (`spoken_word_times`); otherwise the request synthesizes again, and
  its job, which has them, becomes the key's cache entry, so each audio is timed at most once more.
- The words are those of the text as sent (after whitespace collapsing): "₦2,500" is one word that lasts from the
  start of "two" to the end of "naira"; a written word that says nothing (a lone dash, Dia's `[S2]`) joins the word
  after it (at the end, the one before).
"""

from __future__ import annotations

from collections.abc import Sequence

ENGINES_WITH_ALIGNMENTS = frozenset({"piper"})


def timestamps_available(engine: str, *, recogniser: bool) -> bool:
    """Whether jobs of `engine` can get word timestamps (`recogniser`: TTS_TIMESTAMPS_RECOGNISER)."""
    return engine in ENGINES_WITH_ALIGNMENTS or recogniser


# Caption cues: a few words per cue, as subtitle guidelines advise (two short lines' worth), never across a
# sentence end.
CUE_MAX_WORDS = 7
CUE_MAX_CHARS = 42
_SENTENCE_ENDS = (".", "!", "?", "…", '."', '!"', '?"')


def words_timed(word_spans: Sequence[Sequence], spoken_times: Sequence[Sequence[float] | None]) -> list[dict]:
    """The public words: each word as sent, from the start of its first spoken word to the end of its last. A word
    whose spoken words were not timed (said as nothing: a dash, Dia's `[S2]`) joins the word after it (at the end,
    the word before)."""
    words: list[dict] = []
    pending = ""  # untimed text waiting for the next timed word
    for text, first, end in word_spans:
        times = [t for t in spoken_times[first:end] if t]
        if not times:
            pending = f"{pending} {text}".strip()
            continue
        start, stop = min(t[0] for t in times), max(t[1] for t in times)
        if words:
            start = max(start, words[-1]["end"])  # monotonic even where two words share a crossfade
        words.append({"text": f"{pending} {text}".strip(), "start": round(start, 3), "end": round(max(stop, start), 3)})
        pending = ""
    if pending and words:
        words[-1]["text"] = f"{words[-1]['text']} {pending}"
    return words


def caption_cues(words: Sequence[dict]) -> list[tuple[float, float, str]]:
    """(start, end, text) cues: up to CUE_MAX_WORDS words and CUE_MAX_CHARS characters, ending at sentence ends."""
    cues: list[tuple[float, float, str]] = []
    current: list[dict] = []

    def flush() -> None:
        if current:
            cues.append((current[0]["start"], current[-1]["end"], " ".join(w["text"] for w in current)))
            current.clear()

    for word in words:
        text = " ".join([*(w["text"] for w in current), word["text"]])
        if current and (len(current) >= CUE_MAX_WORDS or len(text) > CUE_MAX_CHARS):
            flush()
        current.append(word)
        if word["text"].endswith(_SENTENCE_ENDS):
            flush()
    flush()
    return cues


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cue_text(text: str) -> str:
    # A blank line would end the cue, and "-->" would read as timing; WebVTT also escapes & and <.
    return " ".join(text.split()).replace("-->", "->")


def captions_srt(words: Sequence[dict]) -> str:
    blocks = [
        f"{index}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{_cue_text(text)}\n"
        for index, (start, end, text) in enumerate(caption_cues(words), start=1)
    ]
    return "\n".join(blocks)


def captions_vtt(words: Sequence[dict]) -> str:
    blocks = ["WEBVTT\n"]
    for start, end, text in caption_cues(words):
        escaped = _cue_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{_clock(start, '.')} --> {_clock(end, '.')}\n{escaped}\n")
    return "\n".join(blocks)
