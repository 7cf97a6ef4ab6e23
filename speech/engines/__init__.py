"""Speech engines behind one interface (`speech.engines.base.Engine`)."""
