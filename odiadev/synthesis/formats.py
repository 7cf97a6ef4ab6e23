"""Output formats as the web tier knows them: names, content types, and the sample rate each is written at."""

from dataclasses import dataclass

# Opus runs only at these rates: audio produced at another rate is written at 48 kHz in ogg.
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


@dataclass(frozen=True)
class OutputFormat:
    name: str
    content_type: str
    extension: str


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", "audio/wav", "wav"),
    "mp3": OutputFormat("mp3", "audio/mpeg", "mp3"),
    "ogg": OutputFormat("ogg", "audio/ogg", "ogg"),
    "flac": OutputFormat("flac", "audio/flac", "flac"),
}


def output_sample_rate(fmt: str, voice_rate: int) -> int:
    if fmt == "ogg" and voice_rate not in _OPUS_RATES:
        return 48000
    return voice_rate
