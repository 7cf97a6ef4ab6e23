"""The consent decision for a cloned voice: was the statement read, was this challenge's one-time phrase said,
and is the voice the sample's?

Comparing speaker embeddings alone lets anyone holding two recordings of a person clone them; hearing the one-time
phrase (random words issued minutes before, spoken in order) is what makes the consent recording fresh, and
hearing the statement is what makes it consent. Plain Python: the caller transcribes (speech.asr) and scores the
speaker (speech.encoders), then asks `consent_decide`.

Each check has a threshold and a review band just below it (`review_margin`): a score at or above the threshold
passes, one inside the band goes to a person (outcome "review"), one below the band is rejected. Checks are read
in a fixed order, statement, then phrase, then speaker, and the first one that fails names the rejection (a
recording of the wrong text fails the statement, whatever its phrase).

The defaults come from bench/asr.py's decision tables (bench/measured/asr_2core*.json; docs/consent.md has them):
Whisper tiny.en hearing Piper speech at 0.8-1.3x speed, clean and with white noise at 20 dB SNR. Wrong-words
recordings (sample script, statement without the phrase, another challenge's statement, the phrase shuffled, the
phrase alone, one phrase word replaced) scored at most 0.073 for the statement when it was not read and at most
0.75 for the phrase (three words in order): none accepted, none sent to review, in 1,740 over four runs.
By what the recogniser wrote alone, honest recordings were accepted 87.5-92.5% of the time; the misses were
single phrase words written as another word next to their neighbours ("planet lily" as "planet willy"), and one
word missed caps the score at 0.75, where a shuffle keeping three words in order also lands. So that one word is
listened for (policy 3, `consent_decide`): asked for it at its place, the recogniser gave a word said there
0.0021 at least and a word not said 0.00038 at most (`listened` threshold 0.001); honest recordings were then
accepted 238 times in 240.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from speech.asr import Transcript
from textnorm.words import (
    Coverage,
    PhraseMatch,
    WordMatch,
    edit_distance,
    phrase_heard,
    statement_coverage,
    words_of,
)

# 2: phrase written with commas, 72 vetted words, a second listen; 3: one phrase word missed by the second listen
# is listened for.
POLICY_VERSION = "consent-heard/3"

ACCEPTED, REJECTED, REVIEW = "accepted", "rejected", "review"
PHRASE_NOT_HEARD = "consent_phrase_not_heard"
STATEMENT_NOT_HEARD = "consent_statement_not_heard"
SPEAKER_MISMATCH = "consent_speaker_mismatch"


@dataclass(frozen=True)
class ConsentThresholds:
    # Mean similarity of the phrase words heard in order (textnorm.words.phrase_heard): 1.0 when every word came
    # back exact; a word not heard counts 0, so with four words one missing caps the score at 0.75.
    phrase: float = 0.9
    # Share of the statement's words heard in order (textnorm.words.statement_coverage).
    statement: float = 0.6
    # Cosine similarity of consent and sample speakers: pass the threshold of the encoder that scored it
    # (SPEAKER_MATCH_THRESHOLDS); 0.75 is Resemblyzer's.
    speaker: float = 0.75
    # A score within this much below its threshold goes to review instead of being rejected.
    review_margin: float = 0.05
    # The least probability the recogniser must give a phrase word it was listened for (`consent_decide`) for
    # that word to count as heard.
    listened: float = 0.001

    def __post_init__(self) -> None:
        for name in ("phrase", "statement", "speaker", "review_margin", "listened"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"ConsentThresholds.{name} must be a number in [0, 1], not {value!r}")


DEFAULT_THRESHOLDS = ConsentThresholds()


@dataclass(frozen=True)
class Decision:
    outcome: str  # "accepted" | "rejected" | "review"
    code: str | None  # None when accepted; else the check that rejected it, or that sent it to review
    message: str  # for the customer
    phrase_score: float
    phrase_threshold: float
    statement_share: float
    statement_threshold: float
    speaker_similarity: float
    speaker_threshold: float
    review_margin: float
    missing_phrase_words: tuple[str, ...]
    phrase: str
    statement: str
    phrase_match: PhraseMatch
    coverage: Coverage
    transcript: Transcript
    # The second listen to the end of the recording (see `consent_decide`), when there was one: the seconds it
    # started at, and what it heard there (timings relative to that start).
    relisten_from: float | None = None
    relistened: Transcript | None = None
    phrase_from_relisten: bool = False  # the phrase's words were heard in the second listen
    # The best probability the recogniser gave the one phrase word the second listen missed, when it was listened
    # for (see `consent_decide`); None when it was not.
    listened: float | None = None
    listened_threshold: float | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome == ACCEPTED

    def audit(self) -> dict[str, Any]:
        """Everything the decision rests on, JSON-safe, to store beside the consent record."""
        relistened = self.phrase_from_relisten and self.relistened is not None
        words = self.relistened.words if relistened else self.transcript.words
        offset = (self.relisten_from or 0.0) if relistened else 0.0

        def timing(index: int) -> dict[str, float]:
            return {"start": round(words[index].start + offset, 3), "end": round(words[index].end + offset, 3)}

        return {
            "policy": POLICY_VERSION,
            "outcome": self.outcome,
            "code": self.code,
            "message": self.message,
            "phrase": {
                "text": self.phrase,
                "score": self.phrase_score,
                "threshold": self.phrase_threshold,
                "heard": [
                    {
                        "expected": m.expected,
                        "heard": m.heard,
                        "distance": m.distance,
                        **timing(m.index),
                        **({"listened": m.listened} if m.listened is not None else {}),
                    }
                    for m in self.phrase_match.matched
                ],
                "listened_for": None
                if self.listened is None
                else {"probability": round(self.listened, 6), "threshold": self.listened_threshold},
                "missing": list(self.missing_phrase_words),
            },
            "statement": {
                "text": self.statement,
                "share": self.statement_share,
                "threshold": self.statement_threshold,
                "words_heard": self.coverage.matched,
                "words_total": self.coverage.total,
                "missing": list(self.coverage.missing),
            },
            "speaker": {"similarity": _finite(self.speaker_similarity), "threshold": self.speaker_threshold},
            "review_margin": self.review_margin,
            "transcript": self.transcript.to_dict(),
            "relisten": None
            if self.relistened is None
            else {
                "from": self.relisten_from,
                "used_for_phrase": self.phrase_from_relisten,
                "transcript": self.relistened.to_dict(),
            },
            "asr": {"model_id": self.transcript.model_id, "model_revision": self.transcript.model_revision},
        }


def _finite(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def _standing(score: float, threshold: float, margin: float) -> str:
    if not math.isfinite(score):
        return REJECTED
    if score >= threshold:
        return ACCEPTED
    return REVIEW if score >= threshold - margin else REJECTED


def _quoted(words: tuple[str, ...]) -> str:
    return "'" + " ".join(words) + "'"


def _message(code: str | None, outcome: str, phrase_match: PhraseMatch, coverage: Coverage) -> str:
    if outcome == ACCEPTED:
        return "We heard your consent statement and your one-time phrase, and the voices match."
    if outcome == REVIEW:
        return (
            "We need to check your consent recording by hand before your voice can be used; "
            "we will let you know the result."
        )
    if code == STATEMENT_NOT_HEARD:
        return (
            f"We did not hear the consent statement in your consent recording (we heard {coverage.share:.0%} of "
            "its words). Read the statement shown, word for word, including your one-time phrase, and record again."
        )
    if code == PHRASE_NOT_HEARD:
        if phrase_match.missing:
            return (
                f"We did not hear the words {_quoted(phrase_match.missing)} in your consent recording. Read the "
                "statement again, ending with your one-time phrase exactly as shown, and record again."
            )
        return (
            "We did not clearly hear your one-time phrase in your consent recording. Say it slowly and clearly, "
            "exactly as shown, and record again."
        )
    return (
        "The voice in your consent recording does not match the voice in your sample. Both recordings must be of you."
    )


# Words the statement says just before the phrase ("... My one-time phrase is: ..."), as Whisper may write them.
_LEAD_IN = frozenset({"phrase", "phrases", "phase", "phases", "praise", "raises"})
# Without a lead-in heard, the second listen hears the recording's last seconds.
RELISTEN_TAIL_SECONDS = 8.0
# ... starting a little before the lead-in's end, so a phrase word run into it is heard whole.
RELISTEN_LEAD = 0.3


def relisten_start(transcript: Transcript) -> float:
    """Where the one-time phrase should begin in a consent recording: the end of the last "phrase" heard (the
    statement's "My one-time phrase is:"), else the last RELISTEN_TAIL_SECONDS."""
    for word in reversed(transcript.words):
        if set(words_of(word.text)) & _LEAD_IN:
            return max(0.0, word.end - RELISTEN_LEAD)
    return max(0.0, transcript.duration - RELISTEN_TAIL_SECONDS)


# A phrase word listened for and found counts this much towards the phrase score (an exact word counts 1.0, a
# word heard only by its sound 0.75): with the other three exact, 0.975.
LISTENED = 0.9
# The heard words a listened-for word may stand in place of: up to this many, between its phrase neighbours.
LISTEN_SPAN = 3
WordProbabilities = Callable[[float, Sequence[tuple[str, str, str]]], list[float]]


def _places(phrase_words: list[str], match: PhraseMatch, heard: Transcript) -> list[tuple[int, int]]:
    """Where in `heard` the one missing phrase word of `match` may have been said: spans (start, end exclusive)
    of at most LISTEN_SPAN heard words, empty spans included, between the phrase words heard before and after
    it (for the first word: after the lead-in, else at most LISTEN_SPAN + 1 words before the second; for the last
    likewise after the one before it)."""
    missing = phrase_words.index(match.missing[0])
    matched = {m.expected: m for m in match.matched}
    before = matched.get(phrase_words[missing - 1]) if missing > 0 else None
    after = matched.get(phrase_words[missing + 1]) if missing + 1 < len(phrase_words) else None
    words = heard.words
    if before is not None:
        low = before.index + (2 if " " in before.heard else 1)
    else:
        lead_in = [i for i, w in enumerate(words[: after.index]) if set(words_of(w.text)) & _LEAD_IN]
        low = lead_in[-1] + 1 if lead_in else max(0, after.index - LISTEN_SPAN - 1)
    high = after.index if after is not None else min(len(words), low + LISTEN_SPAN + 1)
    return [(i, j) for i in range(low, high + 1) for j in range(i, min(high, i + LISTEN_SPAN) + 1)]


def _listened_for(
    phrase: str, match: PhraseMatch, heard: Transcript, start: float, ask: WordProbabilities, *, threshold: float
) -> tuple[PhraseMatch, float]:
    """`match` (of the second listen, `heard`, which began `start` seconds into the recording) with its one
    missing word listened for: the recogniser is asked how likely that word is at each place it may have been
    said (`_places`: in place of the heard words there, or between them), and the word counts as heard, with
    similarity LISTENED, when the best of those reaches `threshold`. Returns the match and that best probability.
    """
    phrase_words = words_of(phrase)
    word = match.missing[0]
    words = heard.words
    places = _places(phrase_words, match, heard)
    neighbour = match.matched[0]
    written = words[neighbour.index].text.strip()
    shown = word.capitalize() if written[:1].isupper() else word
    candidates = []
    for i, j in places:
        punctuation = words[j - 1].text.strip()[-1:] if j > i else ""
        if punctuation not in string.punctuation or not punctuation:
            punctuation = "," if j < len(words) else "."
        rest = " ".join(w.text.strip() for w in words[j:])
        before = " ".join(w.text.strip() for w in words[:i])
        candidates.append((before, shown, punctuation + (" " + rest if rest else "")))
    probabilities = ask(start, candidates) if candidates else []
    if not probabilities or max(probabilities) < threshold:
        return match, max(probabilities, default=0.0)
    best = max(range(len(places)), key=probabilities.__getitem__)
    i, j = places[best]
    said = " ".join(t for w in words[i:j] for t in words_of(w.text))
    index = i if j > i else next((m.index for m in match.matched if m.index >= i), match.matched[-1].index)
    found = WordMatch(
        expected=word,
        heard=said,
        index=index,
        distance=edit_distance(word, said.replace(" ", "")),
        similarity=LISTENED,
        listened=round(probabilities[best], 4),
    )
    order = {w: n for n, w in enumerate(phrase_words)}
    matched = tuple(sorted((*match.matched, found), key=lambda m: order[m.expected]))
    score = round(sum(m.similarity for m in matched) / len(phrase_words), 4)
    return PhraseMatch(heard=True, score=score, matched=matched, missing=()), probabilities[best]


def consent_decide(
    *,
    phrase: str,
    statement: str,
    transcript: Transcript,
    speaker_similarity: float,
    thresholds: ConsentThresholds = DEFAULT_THRESHOLDS,
    relisten: Callable[[float], Transcript] | None = None,
    listen_for: WordProbabilities | None = None,
) -> Decision:
    """Decide a consent recording from what was heard in it and how close its speaker is to the sample's.

    `phrase` is the challenge's one-time phrase (ConsentChallenge.nonce), `statement` the full text issued
    (ConsentChallenge.statement, phrase included), `transcript` what speech.asr heard in the consent recording.

    `relisten(start_seconds)`, when given, transcribes the recording again from `start_seconds` on. It is called
    once, only when the phrase is not heard in full in the first listen: Whisper hears four short words alone
    better than at the end of a 30-second window, where it runs them into their neighbours ("phrase is oasis"
    as "phrases voices"). The phrase is then judged on whichever listen heard more of it, still in order and with
    the same tolerance; the statement is judged on the first listen. Nothing primes the second listen.

    `listen_for(start_seconds, candidates)`, when given with `relisten`, is asked only when the second listen
    heard every phrase word but one, in order: for each (before, word, after) in `candidates`, the probability
    the recogniser gives that missing word at one place where it may have been said (speech.asr's
    Recognizer.word_probabilities on the recording from `start_seconds`). Whisper tiny.en writes some words as
    a neighbour-coloured near-homophone ("planet lily" as "planet willy") every time; asked for "lily" there it
    still gives it a probability far above that of a word not said (bench/asr.py measures both), so the word
    counts as heard (similarity LISTENED) when the best place reaches `thresholds.listened`. Three of the four
    words must still be written by the recogniser, unprompted and in order, so a recording that does not say
    this phrase cannot pass by being listened for.
    """
    phrase_match = phrase_heard(phrase, transcript.words)
    coverage = statement_coverage(statement, transcript.words)
    margin = thresholds.review_margin
    relisten_from = relistened = listened = None
    from_relisten = False
    if relisten is not None and _standing(phrase_match.score, thresholds.phrase, 0.0) != ACCEPTED:
        relisten_from = round(relisten_start(transcript), 3)
        relistened = relisten(relisten_from)
        second = phrase_heard(phrase, relistened.words)
        if listen_for is not None and len(second.missing) == 1 and second.matched:
            second, listened = _listened_for(
                phrase, second, relistened, relisten_from, listen_for, threshold=thresholds.listened
            )
        if second.score > phrase_match.score:
            phrase_match, from_relisten = second, True
    checks = (
        (STATEMENT_NOT_HEARD, _standing(coverage.share, thresholds.statement, margin)),
        (PHRASE_NOT_HEARD, _standing(phrase_match.score, thresholds.phrase, margin)),
        (SPEAKER_MISMATCH, _standing(speaker_similarity, thresholds.speaker, margin)),
    )
    code: str | None = next((code for code, standing in checks if standing == REJECTED), None)
    if code is not None:
        outcome = REJECTED
    else:
        code = next((code for code, standing in checks if standing == REVIEW), None)
        outcome = REVIEW if code is not None else ACCEPTED
    return Decision(
        outcome=outcome,
        code=code,
        message=_message(code, outcome, phrase_match, coverage),
        phrase_score=phrase_match.score,
        phrase_threshold=thresholds.phrase,
        statement_share=coverage.share,
        statement_threshold=thresholds.statement,
        speaker_similarity=round(speaker_similarity, 4) if math.isfinite(speaker_similarity) else speaker_similarity,
        speaker_threshold=thresholds.speaker,
        review_margin=margin,
        missing_phrase_words=phrase_match.missing,
        phrase=phrase,
        statement=statement,
        phrase_match=phrase_match,
        coverage=coverage,
        transcript=transcript,
        relisten_from=relisten_from,
        relistened=relistened,
        phrase_from_relisten=from_relisten,
        listened=listened,
        listened_threshold=thresholds.listened,
    )
