"""`odiadev`: the API from a shell. Exit codes: 0 done, 1 the API refused or failed (message and code on stderr),
2 a usage error (bad arguments, no API key)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ._base import API_KEY_ENV, BASE_URL_ENV
from ._client import Client
from .errors import APIConnectionError, APIError, ConfigurationError

EXIT_OK, EXIT_API, EXIT_USAGE = 0, 1, 2

FORMATS_BY_EXTENSION = {
    ".mp3": "mp3",
    ".wav": "wav",
    ".ogg": "ogg",
    ".opus": "ogg",
    ".flac": "flac",
    ".pcm": "pcm",
    ".raw": "pcm",
    ".ulaw": "ulaw",
    ".ul": "ulaw",
}
STREAMABLE = {"mp3", "pcm", "ulaw", "ogg"}


class UsageError(Exception):
    """Arguments the API would never accept: exit 2 before any request."""


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _dump(document: Any) -> None:
    _out(json.dumps(document, indent=2, ensure_ascii=False))


def cmd_say(client: Client, args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    fmt = args.format or FORMATS_BY_EXTENSION.get(os.path.splitext(args.output)[1].lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the format from {args.output!r}: use --format or one of {', '.join(FORMATS_BY_EXTENSION)}"
        )
    options: dict[str, Any] = {
        "voice_id": args.voice,
        "format": fmt,
        "speed": args.speed,
        "sample_rate": args.sample_rate,
        "seed": args.seed,
        "timestamps": args.timestamps or None,
    }
    if args.stream:
        if fmt not in STREAMABLE:
            raise UsageError(f"--stream needs one of {', '.join(sorted(STREAMABLE))}, not {fmt}")
        written = 0
        with open(args.output, "wb") as handle:
            for chunk in client.tts.stream(text, **options):
                handle.write(chunk)
                written += len(chunk)
        _err(f"wrote {args.output} ({written} bytes, streamed)")
        return EXIT_OK
    job, audio = client.tts.synthesize(text, **options)
    with open(args.output, "wb") as handle:
        handle.write(audio)
    if args.json:
        _dump(job)
    _err(f"wrote {args.output} ({len(audio)} bytes, {job.get('duration_seconds') or 0:.2f} s, job {job['id']})")
    return EXIT_OK


def cmd_voices(client: Client, args: argparse.Namespace) -> int:
    voices = client.voices.list()
    if args.json:
        _dump(voices)
        return EXIT_OK
    for voice in voices.get("voices", []):
        kind = voice.get("kind") or voice.get("engine") or ""
        status = voice.get("status") or ""
        _out("\t".join(str(x) for x in (voice.get("id"), voice.get("name", ""), kind, status)).rstrip())
    return EXIT_OK


def cmd_jobs(client: Client, args: argparse.Namespace) -> int:
    page = client.tts.list(page_size=args.limit)
    if args.json:
        _dump(page)
        return EXIT_OK
    for job in page.get("results", [])[: args.limit]:
        fields = (job["id"], job["status"], job.get("characters", ""), job.get("voice_id", ""), job.get("created_at"))
        _out("\t".join(str(field) for field in fields))
    return EXIT_OK


def cmd_challenge(client: Client, args: argparse.Namespace) -> int:
    challenge = client.voices.challenge_create()
    if args.json:
        _dump(challenge)
        return EXIT_OK
    _out(f"challenge: {challenge['id']}")
    _out(f"expires:   {challenge['expires_at']}")
    _out("Record the voice's owner reading this aloud, then run `odiadev clone --challenge ID --consent FILE ...`:")
    _out(challenge["statement"])
    return EXIT_OK


def cmd_clone(client: Client, args: argparse.Namespace) -> int:
    for path in (args.sample, args.consent):
        if not os.path.isfile(path):
            raise UsageError(f"no such file: {path}")
    voice = client.voices.create(
        name=args.name,
        sample=args.sample,
        consent_audio=args.consent,
        challenge_id=args.challenge,
        sample_transcript=args.transcript,
    )
    if args.wait:
        voice = _voice_settled(client, voice["id"], timeout=args.timeout)
    if args.json:
        _dump(voice)
    else:
        _out(f"{voice['id']}\t{voice['status']}")
    if voice["status"] == "rejected":
        rejection = voice.get("rejection") or {}
        _err(f"error: {rejection.get('message') or 'the voice was rejected'} ({rejection.get('code') or 'rejected'})")
        return EXIT_API
    return EXIT_OK


def _voice_settled(client: Client, voice_id: str, *, timeout: float) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        voice = client.voices.retrieve(voice_id)
        if voice["status"] != "verifying" or voice.get("consent_outcome") == "review":
            return voice
        if time.monotonic() > deadline:
            return voice
        time.sleep(1)


def cmd_captions(client: Client, args: argparse.Namespace) -> int:
    try:
        captions = client.tts.captions(args.job_id, format=args.format)
    except APIError as error:
        if error.status != 404:
            raise
        client.tts.retrieve(args.job_id)  # an unknown job is the API's own 404 (not_found), exit 1
        _err(f"error: captions are not available on this server ({client.base_url}) (captions_unavailable)")
        return EXIT_API
    if args.output:
        with open(args.output, "wb") as handle:
            handle.write(captions)
    else:
        sys.stdout.write(captions.decode("utf-8", "replace"))
    return EXIT_OK


def cmd_usage(client: Client, args: argparse.Namespace) -> int:
    usage = client.usage.retrieve()
    if args.json:
        _dump(usage)
        return EXIT_OK
    plan, period, chars = usage.get("plan", {}), usage.get("period", {}), usage.get("characters", {})
    _out(f"plan:      {plan.get('name', plan.get('slug', ''))}")
    _out(f"period:    {period.get('start', '')} .. {period.get('end', '')}")
    _out(f"used:      {chars.get('used', 0)} of {chars.get('granted', 0)} characters")
    _out(f"remaining: {chars.get('remaining', 0)} characters")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="odiadev", description="The ODIADEV-TTS API from the command line.")
    parser.add_argument("--api-key", help=f"API key (default: ${API_KEY_ENV})")
    parser.add_argument("--base-url", help=f"server URL (default: ${BASE_URL_ENV} or http://127.0.0.1:8000)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answers")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    say = commands.add_parser("say", help="synthesize text into an audio file")
    say.add_argument("text", help="the text ('-' reads standard input)")
    say.add_argument("-o", "--output", required=True, help="audio file; its extension picks the format")
    say.add_argument("--voice", help="voice id (see `odiadev voices`)")
    say.add_argument("--format", choices=sorted(set(FORMATS_BY_EXTENSION.values())), help="override the extension")
    say.add_argument("--speed", type=float)
    say.add_argument("--sample-rate", type=int)
    say.add_argument("--seed", type=int)
    say.add_argument("--stream", action="store_true", help="write audio as it is made (mp3, ogg, pcm, ulaw)")
    say.add_argument("--timestamps", action="store_true", help="time each word (then: odiadev captions JOB_ID)")
    say.set_defaults(handler=cmd_say)

    voices = commands.add_parser("voices", help="list the voices you can use")
    voices.set_defaults(handler=cmd_voices)

    jobs = commands.add_parser("jobs", help="list your recent jobs, newest first")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.set_defaults(handler=cmd_jobs)

    challenge = commands.add_parser("challenge", help="start cloning: get the consent statement to read aloud")
    challenge.set_defaults(handler=cmd_challenge)

    clone = commands.add_parser("clone", help="clone a voice from a sample and a consent recording")
    clone.add_argument("--name", required=True)
    clone.add_argument("--sample", required=True, help="recording of the voice (wav, mp3, webm, ...)")
    clone.add_argument("--consent", required=True, help="the owner reading the challenge's statement aloud")
    clone.add_argument("--challenge", required=True, help="challenge id from `odiadev challenge`")
    clone.add_argument("--transcript", help="what the sample says (otherwise transcribed)")
    clone.add_argument("--wait", action="store_true", help="wait until the consent check settles")
    clone.add_argument("--timeout", type=float, default=300)
    clone.set_defaults(handler=cmd_clone)

    captions = commands.add_parser("captions", help="a job's captions (SRT or VTT)")
    captions.add_argument("job_id")
    captions.add_argument("--format", choices=["srt", "vtt"], default="srt")
    captions.add_argument("-o", "--output")
    captions.set_defaults(handler=cmd_captions)

    usage = commands.add_parser("usage", help="characters used and left this period")
    usage.set_defaults(handler=cmd_usage)
    return parser


def main(argv: Sequence[str] | None = None, *, client_factory: Callable[..., Client] = Client) -> int:
    args = build_parser().parse_args(argv)  # exits 2 on bad arguments
    try:
        with client_factory(api_key=args.api_key, base_url=args.base_url) as client:
            return int(args.handler(client, args))
    except (ConfigurationError, UsageError) as error:
        _err(f"odiadev: error: {error}")
        return EXIT_USAGE
    except APIError as error:
        _err(f"error: {error.message} ({error.code})")
        if error.detail:
            _err(f"detail: {json.dumps(error.detail, ensure_ascii=False)}")
        return EXIT_API
    except APIConnectionError as error:
        _err(f"error: {error} (connection_error)")
        return EXIT_API


if __name__ == "__main__":
    sys.exit(main())
