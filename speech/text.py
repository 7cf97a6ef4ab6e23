"""Text helpers for engines: sentence-bounded chunks, and Dia's speaker tags kept across chunk boundaries."""

from __future__ import annotations

import re

from textnorm.sentences import split_long as _split_long

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_SPEAKER_TAG = re.compile(r"\[S[12]\]")


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Split at paragraph and sentence boundaries into chunks of at most max_chars, in order."""
    chunks: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        current = ""
        for sentence in _SENTENCE_END.split(paragraph.strip()):
            sentence = " ".join(sentence.split())
            if not sentence:
                continue
            parts = [sentence] if len(sentence) <= max_chars else _split_long(sentence, max_chars)
            for part in parts:
                candidate = f"{current} {part}".strip()
                if len(candidate) <= max_chars:
                    current = candidate
                else:
                    chunks.append(current)
                    current = part
        if current:
            chunks.append(current)
    return chunks


def dialogue_chunks(text: str, max_chars: int) -> list[str]:
    """Chunks for Dia: each starts with a speaker tag; a chunk that begins mid-turn repeats the current speaker.

    Text without any tag is read by speaker 1.
    """
    text = text.strip()
    if not _SPEAKER_TAG.match(text):
        text = f"[S1] {text}"
    # Leave room for a repeated tag at the start of each chunk.
    chunks = chunk_text(text, max_chars - 5)
    tagged: list[str] = []
    speaker = "[S1]"
    for chunk in chunks:
        if not _SPEAKER_TAG.match(chunk):
            chunk = f"{speaker} {chunk}"
        tags = _SPEAKER_TAG.findall(chunk)
        speaker = tags[-1] if tags else speaker
        tagged.append(chunk)
    return tagged
