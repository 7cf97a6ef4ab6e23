"""A consent challenge reads as speech.consent words it, with a phrase of four different words from its list."""

from tests.factories import UserFactory
from textnorm.consent_wording import PHRASE_LENGTH, PHRASE_WORDS, consent_statement
from voices.consent import consent_challenge_create


def test_a_challenge_states_the_account_and_ends_with_its_phrase(db):
    user = UserFactory()
    phrases = set()
    for _ in range(20):
        challenge = consent_challenge_create(user=user)
        words = challenge.nonce.split()
        assert len(set(words)) == len(words) == PHRASE_LENGTH
        assert set(words) <= set(PHRASE_WORDS)
        assert challenge.statement == consent_statement(email=user.email, phrase=challenge.nonce)
        assert challenge.statement.endswith(f"My one-time phrase is: {', '.join(words)}.")
        phrases.add(challenge.nonce)
    assert len(phrases) == 20, "phrases are drawn at random"
