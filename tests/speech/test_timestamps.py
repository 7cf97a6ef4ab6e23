"""speech.timestamps: Piper's phoneme alignments and a recogniser's word timings turned into word times."""

import itertools

import numpy as np
import pytest

from speech import asr
from speech.audio import stitch_offsets
from speech.engines.base import PcmChunk, SynthesisRequest
from speech.engines.piper import PiperEngine
from speech.timestamps import heard_word_times, spoken_word_times

TEXT = "The harbor lights came on at seven. Nobody on the boat said a word."


@pytest.fixture(scope="module")
def piper():
    engine = PiperEngine()
    engine.load()
    return engine


def test_heard_words_align_to_spoken_words_and_the_unheard_are_placed_between():
    spoken = ["[S1]", "Purple", "harbor", "seven", "(laughs)", "lantern", "gleams."]
    heard = [("Purple", 0.1, 0.5), ("Harbor", 0.6, 1.0), ("7", 1.1, 1.4), ("gleams.", 2.0, 2.5)]

    times = heard_word_times(spoken, heard, duration=3.0)

    assert times[0] is None  # a speaker tag is no word
    assert times[4] is None  # nor a nonverbal
    assert times[1:4] == [[0.1, 0.5], [0.6, 1.0], [1.1, 1.4]]  # "7" is "seven"
    assert times[5] == [1.4, 2.0]  # not heard: between its neighbours
    assert times[6] == [2.0, 2.5]


def test_recogniser_times_agree_with_pipers_own_alignments(piper):
    # The path for engines without alignments, tried on Piper's speech where the phoneme alignments are the truth.
    pieces = list(piper.synthesize(SynthesisRequest(text=TEXT, voice="en_US-joe-medium", alignments=True)))
    samples, rate, offsets = stitch_offsets(pieces)
    words = TEXT.split()
    truth = spoken_word_times([(0, p) for p in pieces], offsets, rate, [len(words)])

    heard = asr.transcribe(samples, rate)
    times = heard_word_times(words, [(w.text, w.start, w.end) for w in heard.words], len(samples) / rate)

    for word, (start, end), (true_start, true_end) in zip(words, times, truth, strict=True):
        assert 0 <= start < end <= len(samples) / rate + 0.001, word
        # Whisper's word times are coarse (20 ms frames, boundaries it guesses): within a few hundred ms.
        assert abs((start + end) / 2 - (true_start + true_end) / 2) < 0.25, (word, start, end, true_start, true_end)
        span = samples[int(start * rate) : int(end * rate)]
        assert float(np.sqrt(np.mean(span**2))) > 0.012, word
    assert all(a[1] <= b[0] + 0.001 for a, b in itertools.pairwise(times))


def test_stitch_offsets_say_where_each_chunk_lands_after_the_crossfades():
    rate = 1000
    chunks = [
        PcmChunk(np.full(1000, 0.1, dtype=np.float32), rate),
        PcmChunk(np.full(1000, 0.2, dtype=np.float32), rate),  # a new generation: 10 ms crossfade
        PcmChunk(np.full(500, 0.3, dtype=np.float32), rate, continues=True),  # the same generation: no seam
    ]

    samples, _, offsets = stitch_offsets(chunks, crossfade_seconds=0.01)

    assert offsets == [0, 990, 1990]
    assert len(samples) == 2490
    # Each chunk's own samples (past its fade-in) are where its offset says.
    assert samples[offsets[1] + 10] == pytest.approx(0.2)
    assert samples[offsets[1] - 1] == pytest.approx(0.1)
    assert samples[offsets[2]] == pytest.approx(0.3)
    assert samples[offsets[2] - 1] == pytest.approx(0.2)
