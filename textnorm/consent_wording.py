"""The consent statement a customer reads aloud and the words its one-time phrase is drawn from. Plain Python:
the web tier issues challenges with it (voices.consent), the workers' decision (speech.consent) and the benchmark
(bench/asr.py) hear them."""

from __future__ import annotations

# The words one-time phrases are drawn from (four different ones, at random). Every word here was heard by Whisper
# tiny.en every time in bench/asr.py's vocabulary run (each said in statements at three speeds, clean and with
# noise). Left out, as measured there: words it missed (tulip, globe, meadow, quartz, berry, ...); one of each pair
# within the spelling tolerance of each other (amber/ember, paddle/saddle, pocket/rocket, pillow/willow); words it
# heard as others in the decision table (canyon as "cannon", shadow as "channel", lizard as "blizzard", badge as
# "bad", ticket as "take it", dragon as "driving"); and words that begin with a vowel, which it runs into the "is"
# before them ("phrase is oasis" heard as "phrases voices"); and mosaic, heard as "mistake" once the phrase was
# written with commas (the second vocabulary pass: 73 words, 6 recordings each, no other word missed); then forest,
# jaguar, kettle, border and valley, the words missed in honest recordings of the 72-word decision table (heard as
# "for us", "jed war", "pedal", "Florida", "belly"; bench/measured/asr_2core_72words.json). 67 words, four
# different ones to a phrase: 18 million phrases.
PHRASE_WORDS = tuple(
    (
        "basket blanket blossom bridge bubble cactus camera candle carpet castle cherry circle cobalt copper "
        "coral cotton crystal dancer desert diamond drum feather fiddle fossil garden ginger glacier hammer "
        "harbor harvest hazel helmet jacket jungle lantern lemon lily marble melon mirror "
        "needle nickel paddle pebble pepper piano pillow planet pocket puzzle rabbit radar ribbon river salmon "
        "silver sketch spider spruce stable temple violin walnut window winter yellow zebra"
    ).split()
)
PHRASE_LENGTH = 4


def phrase_draw(rng) -> str:
    """A one-time phrase: PHRASE_LENGTH different words of PHRASE_WORDS (`rng`: random.Random or
    secrets.SystemRandom(); the product uses the latter)."""
    return " ".join(rng.sample(PHRASE_WORDS, PHRASE_LENGTH))


def consent_statement(*, email: str, phrase: str) -> str:
    """The statement a customer reads aloud. The phrase is written with commas between its words: people (and
    Piper) pause at them, and the recogniser then hears four words rather than running them together."""
    return (
        f"I am the holder of the ODIADEV-TTS account {email}. I consent to ODIADEV-TTS creating a synthetic "
        f"version of my own voice from my recordings, for use by my account only, and I know I can delete it "
        f"at any time. My one-time phrase is: {', '.join(phrase.split())}."
    )
