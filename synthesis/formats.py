"""Output formats as the web tier knows them: names, content types, and which sample rates and bitrates each
delivers. The worker encodes with `speech.audio`, which enforces the same codec limits."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidBitrate, InvalidSampleRate

SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
MP3_BITRATES = (32, 64, 96, 128, 192)
MP3_DEFAULT_BITRATE = 128
# Opus runs only at 8, 12, 16, 24 and 48 kHz: of ours, 22050 and 44100 are refused when asked for.
_OPUS_RATES = (8000, 16000, 24000, 48000)
# G.711 μ-law is telephony audio: 8 kHz, always.
_ULAW_RATES = (8000,)


@dataclass(frozen=True)
class OutputFormat:
    name: str
    content_type: str
    extension: str
    sample_rates: tuple[int, ...] = SAMPLE_RATES
    # Headerless formats: no browser player knows their rate, so the dashboard does not offer them.
    playable: bool = True


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", "audio/wav", "wav"),
    "mp3": OutputFormat("mp3", "audio/mpeg", "mp3"),
    "ogg": OutputFormat("ogg", "audio/ogg", "ogg", sample_rates=_OPUS_RATES),
    "flac": OutputFormat("flac", "audio/flac", "flac"),
    # Raw signed 16-bit little-endian mono. Not `audio/L16`: that type is big-endian by definition (RFC 2586).
    "pcm": OutputFormat("pcm", "application/octet-stream", "pcm", playable=False),
    # Raw G.711 μ-law bytes at 8 kHz, mono: exactly what `audio/basic` (RFC 2046) names.
    "ulaw": OutputFormat("ulaw", "audio/basic", "ulaw", sample_rates=_ULAW_RATES, playable=False),
}


def mp3_bitrates_at(sample_rate: int) -> tuple[int, ...]:
    """Our mp3 bitrates that MP3 allows at `sample_rate` (MPEG-2 up to 160 kbps below 32 kHz, MPEG-2.5 up to 64
    kbps below 16 kHz)."""
    ceiling = 320 if sample_rate >= 32000 else 160 if sample_rate >= 16000 else 64
    return tuple(rate for rate in MP3_BITRATES if rate <= ceiling)


def sample_rate_check(fmt: str, sample_rate: int | None) -> None:
    """Refuse a requested rate the format never delivers (before the voice, hence its own rate, is known)."""
    if sample_rate is None:
        return
    allowed = OUTPUT_FORMATS[fmt].sample_rates
    if sample_rate not in allowed:
        raise InvalidSampleRate(
            f"{fmt} is delivered at {', '.join(map(str, allowed))} Hz, not {sample_rate}.",
            detail={"format": fmt, "sample_rate": sample_rate, "supported": list(allowed)},
        )


def output_sample_rate(fmt: str, voice_rate: int, requested: int | None = None) -> int:
    """The rate audio is written at: the requested one, else the voice's own rate where the format has it (ulaw:
    8 kHz; ogg from a voice at a rate Opus lacks: 48 kHz, Opus's own rate)."""
    sample_rate_check(fmt, requested)
    if requested is not None:
        return requested
    allowed = OUTPUT_FORMATS[fmt].sample_rates
    if voice_rate in allowed:
        return voice_rate
    return max(allowed)


def output_bitrate(fmt: str, sample_rate: int, requested: int | None = None) -> int | None:
    """The mp3 bitrate (kbps) for audio at `sample_rate`: the requested one, else 128 kbps or the most the rate
    allows. None for every other format, which takes no bitrate."""
    if fmt != "mp3":
        if requested is not None:
            raise InvalidBitrate(
                f"A bitrate applies to mp3 only, not {fmt}.", detail={"format": fmt, "bitrate": requested}
            )
        return None
    allowed = mp3_bitrates_at(sample_rate)
    if requested is None:
        return min(MP3_DEFAULT_BITRATE, max(allowed))
    if requested not in allowed:
        raise InvalidBitrate(
            f"mp3 at {sample_rate} Hz is delivered at {', '.join(map(str, allowed))} kbps, not {requested}.",
            detail={"format": fmt, "sample_rate": sample_rate, "bitrate": requested, "supported": list(allowed)},
        )
    return requested
