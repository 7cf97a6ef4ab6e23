"""Speaker encoders: an utterance in, a fixed-size voice embedding out, compared by cosine similarity."""
