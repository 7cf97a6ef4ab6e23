"""The speech layer: engines, audio encoding. Plain Python with no Django import; only workers import it."""
