"""The API's operations, grouped as the schema's tags group them. Each method builds one `Request`; the client it
belongs to sends it (sync: returns the result; async: returns an awaitable of it).

`OPERATIONS` maps every operationId of /v1/schema to the method that performs it; a test in the server's suite
fails when the schema and this table disagree in either direction."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from ._base import Request, body, new_idempotency_key, read_upload

J = TypeVar("J", covariant=True)  # a JSON document (dict) or an awaitable of one
B = TypeVar("B", covariant=True)  # bytes or an awaitable of them
N = TypeVar("N", covariant=True)  # None or an awaitable of None

OPERATIONS: dict[str, str] = {
    "account_retrieve": "account.retrieve",
    "account_update": "account.update",
    "billing_checkout_create": "billing.checkout",
    "billing_invoices_list": "billing.invoices",
    "billing_portal_create": "billing.portal",
    "consent_challenge_create": "voices.challenge_create",
    "consent_challenge_retrieve": "voices.challenge_retrieve",
    "openai_audio_speech": "audio.speech",
    "pronunciations_create": "pronunciations.create",
    "pronunciations_delete": "pronunciations.delete",
    "pronunciations_list": "pronunciations.list",
    "pronunciations_retrieve": "pronunciations.retrieve",
    "pronunciations_update": "pronunciations.update",
    "provenance_verify": "provenance.verify",
    "tts_audio": "tts.audio",
    "tts_cancel": "tts.cancel",
    "tts_captions_srt": "tts.captions_srt",
    "tts_captions_vtt": "tts.captions_vtt",
    "tts_create": "tts.create",
    "tts_list": "tts.list",
    "tts_retrieve": "tts.retrieve",
    "tts_stream": "tts.stream",
    "usage_retrieve": "usage.retrieve",
    "voices_consent": "voices.consent",
    "voices_create": "voices.create",
    "voices_destroy": "voices.delete",
    "voices_list": "voices.list",
    "voices_retrieve": "voices.retrieve",
    "voices_sample": "voices.sample",
    "voices_update": "voices.update",
    "webhooks_create": "webhooks.create",
    "webhooks_deliveries_list": "webhooks.deliveries",
    "webhooks_deliveries_resend": "webhooks.resend",
    "webhooks_destroy": "webhooks.delete",
    "webhooks_list": "webhooks.list",
    "webhooks_retrieve": "webhooks.retrieve",
    "webhooks_rotate_secret": "webhooks.rotate_secret",
    "webhooks_test": "webhooks.test",
    "webhooks_update": "webhooks.update",
}


class Caller(Protocol[J, B, N]):
    def _json(self, request: Request) -> J: ...
    def _bytes(self, request: Request) -> B: ...
    def _none(self, request: Request) -> N: ...


class _Resource(Generic[J, B, N]):
    def __init__(self, client: Caller[J, B, N]) -> None:
        self._client = client


def tts_body(
    text: str,
    *,
    voice_id: str | None = None,
    format: str | None = None,
    sample_rate: int | None = None,
    bitrate: int | None = None,
    speed: float | None = None,
    seed: int | None = None,
    wait: bool | None = None,
    stream: bool | None = None,
    normalize: bool | None = None,
    timestamps: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return body(
        text=text,
        voice_id=voice_id,
        format=format,
        sample_rate=sample_rate,
        bitrate=bitrate,
        speed=speed,
        seed=seed,
        wait=wait,
        stream=stream,
        normalize=normalize,
        timestamps=timestamps,
        **extra,
    )


def idempotency_headers(key: str | None) -> dict[str, str]:
    """A key per call (not per attempt): every retry of the call repeats it, so the server makes one job."""
    return {"Idempotency-Key": key or new_idempotency_key()}


class Tts(_Resource[J, B, N]):
    """Synthesis jobs (`/v1/tts`). The streaming call (`stream`) lives on the client's own subclass."""

    def create(self, text: str, *, idempotency_key: str | None = None, **options: Any) -> J:
        """POST /v1/tts: queue a job (202) or, with `wait=True`, answer it finished (200). Options: voice_id,
        format, sample_rate, bitrate, speed, seed, wait, stream, normalize, timestamps (the job gets `words`)."""
        request = Request(
            "POST", "/v1/tts", json=tts_body(text, **options), headers=idempotency_headers(idempotency_key)
        )
        return self._client._json(request)

    def list(self, *, page: int | None = None, page_size: int | None = None) -> J:
        return self._client._json(Request("GET", "/v1/tts", params={"page": page, "page_size": page_size}))

    def retrieve(self, job_id: str) -> J:
        return self._client._json(Request("GET", f"/v1/tts/{job_id}"))

    def cancel(self, job_id: str) -> J:
        return self._client._json(Request("POST", f"/v1/tts/{job_id}/cancel"))

    def audio(self, job_id: str, *, token: str | None = None) -> B:
        """The finished job's audio bytes (409 `audio_not_ready` before it succeeds)."""
        return self._client._bytes(Request("GET", f"/v1/tts/{job_id}/audio", params={"token": token}, expect="bytes"))

    def captions(self, job_id: str, *, format: str = "srt") -> B:
        """The captions (`srt` or `vtt`, UTF-8 bytes) of a job submitted with `timestamps=True`: 409
        `captions_unavailable` before it succeeds or without timestamps; 404 on a server that makes no captions."""
        return self._client._bytes(Request("GET", f"/v1/tts/{job_id}/captions.{format}", expect="bytes"))

    def captions_srt(self, job_id: str) -> B:
        """GET /v1/tts/{id}/captions.srt (SubRip)."""
        return self.captions(job_id, format="srt")

    def captions_vtt(self, job_id: str) -> B:
        """GET /v1/tts/{id}/captions.vtt (WebVTT)."""
        return self.captions(job_id, format="vtt")


class Voices(_Resource[J, B, N]):
    """The voice catalogue and cloned voices (`/v1/voices`), with the consent challenge that cloning needs."""

    def list(self) -> J:
        return self._client._json(Request("GET", "/v1/voices"))

    def retrieve(self, voice_id: str) -> J:
        return self._client._json(Request("GET", f"/v1/voices/{voice_id}"))

    def update(self, voice_id: str, *, sample_transcript: str | None = None) -> J:
        payload = body(sample_transcript=sample_transcript)
        return self._client._json(Request("PATCH", f"/v1/voices/{voice_id}", json=payload))

    def delete(self, voice_id: str) -> N:
        return self._client._none(Request("DELETE", f"/v1/voices/{voice_id}", expect="none"))

    def consent(self, voice_id: str) -> B:
        """The consent recording of a cloned voice."""
        return self._client._bytes(Request("GET", f"/v1/voices/{voice_id}/consent", expect="bytes"))

    def sample(self, voice_id: str) -> B:
        """The voice's sample recording."""
        return self._client._bytes(Request("GET", f"/v1/voices/{voice_id}/sample", expect="bytes"))

    def challenge_create(self) -> J:
        """A consent challenge: the statement (with its one-time phrase) the voice's owner reads aloud."""
        return self._client._json(Request("POST", "/v1/voices/consent-challenge"))

    def challenge_retrieve(self, challenge_id: str) -> J:
        return self._client._json(Request("GET", f"/v1/voices/consent-challenge/{challenge_id}"))

    def create(
        self,
        *,
        name: str,
        sample: Any,
        consent_audio: Any,
        challenge_id: str,
        sample_transcript: str | None = None,
    ) -> J:
        """Clone a voice (202, status `verifying`): `sample` and `consent_audio` are paths, bytes or binary files;
        `consent_audio` reads the statement of challenge `challenge_id` aloud."""
        files = {
            "sample": read_upload(sample, "sample.wav", "audio/wav"),
            "consent_audio": read_upload(consent_audio, "consent.webm", "audio/webm"),
        }
        data = {"name": name, "challenge_id": challenge_id, "sample_transcript": sample_transcript}
        return self._client._json(Request("POST", "/v1/voices", data=data, files=files))


class Pronunciations(_Resource[J, B, N]):
    """The account's pronunciation dictionary (`/v1/pronunciations`)."""

    def list(self) -> J:
        return self._client._json(Request("GET", "/v1/pronunciations"))

    def create(
        self, *, word: str, replacement: str, case_sensitive: bool | None = None, whole_word: bool | None = None
    ) -> J:
        payload = body(word=word, replacement=replacement, case_sensitive=case_sensitive, whole_word=whole_word)
        return self._client._json(Request("POST", "/v1/pronunciations", json=payload))

    def retrieve(self, pronunciation_id: str) -> J:
        return self._client._json(Request("GET", f"/v1/pronunciations/{pronunciation_id}"))

    def update(self, pronunciation_id: str, **fields: Any) -> J:
        """PATCH: any of word, replacement, case_sensitive, whole_word."""
        return self._client._json(Request("PATCH", f"/v1/pronunciations/{pronunciation_id}", json=body(**fields)))

    def delete(self, pronunciation_id: str) -> N:
        return self._client._none(Request("DELETE", f"/v1/pronunciations/{pronunciation_id}", expect="none"))


class Webhooks(_Resource[J, B, N]):
    """Webhook endpoints and their deliveries (`/v1/webhooks`). To check a delivery, see `verify_webhook`."""

    def list(self) -> J:
        return self._client._json(Request("GET", "/v1/webhooks"))

    def create(self, *, url: str, events: list[str], description: str | None = None) -> J:
        """The answer holds the endpoint's signing `secret`, shown only here (and on rotation)."""
        payload = body(url=url, events=events, description=description)
        return self._client._json(Request("POST", "/v1/webhooks", json=payload))

    def retrieve(self, webhook_id: str) -> J:
        return self._client._json(Request("GET", f"/v1/webhooks/{webhook_id}"))

    def update(self, webhook_id: str, **fields: Any) -> J:
        """PATCH: any of url, events, description."""
        return self._client._json(Request("PATCH", f"/v1/webhooks/{webhook_id}", json=body(**fields)))

    def delete(self, webhook_id: str) -> N:
        return self._client._none(Request("DELETE", f"/v1/webhooks/{webhook_id}", expect="none"))

    def deliveries(self, webhook_id: str, *, page: int | None = None, page_size: int | None = None) -> J:
        params = {"page": page, "page_size": page_size}
        return self._client._json(Request("GET", f"/v1/webhooks/{webhook_id}/deliveries", params=params))

    def rotate_secret(self, webhook_id: str) -> J:
        return self._client._json(Request("POST", f"/v1/webhooks/{webhook_id}/rotate-secret"))

    def test(self, webhook_id: str) -> J:
        return self._client._json(Request("POST", f"/v1/webhooks/{webhook_id}/test"))

    def resend(self, delivery_id: str) -> J:
        return self._client._json(Request("POST", f"/v1/webhooks/deliveries/{delivery_id}/resend"))


class Account(_Resource[J, B, N]):
    def retrieve(self) -> J:
        return self._client._json(Request("GET", "/v1/account"))

    def update(self, *, watermark_opt_in: bool | None = None) -> J:
        return self._client._json(Request("PATCH", "/v1/account", json=body(watermark_opt_in=watermark_opt_in)))


class Usage(_Resource[J, B, N]):
    def retrieve(self) -> J:
        """Plan, period, characters granted/used/remaining, usage by day and storage."""
        return self._client._json(Request("GET", "/v1/usage"))


class Billing(_Resource[J, B, N]):
    def checkout(self, *, plan: str, success_url: str | None = None, cancel_url: str | None = None) -> J:
        payload = body(plan=plan, success_url=success_url, cancel_url=cancel_url)
        return self._client._json(Request("POST", "/v1/billing/checkout", json=payload))

    def portal(self, *, return_url: str | None = None) -> J:
        return self._client._json(Request("POST", "/v1/billing/portal", json=body(return_url=return_url)))

    def invoices(self) -> J:
        return self._client._json(Request("GET", "/v1/billing/invoices"))


class Provenance(_Resource[J, B, N]):
    def verify(self, audio: Any) -> J:
        """Whether a recording carries this service's watermark: `audio` is a path, bytes or a binary file."""
        files = {"audio": read_upload(audio, "audio.wav", "application/octet-stream")}
        return self._client._json(Request("POST", "/v1/provenance/verify", files=files))


def speech_body(
    input: str,
    *,
    voice: str | None = None,
    model: str | None = None,
    response_format: str | None = None,
    speed: float | None = None,
    instructions: str | None = None,
    stream_format: str | None = None,
) -> dict[str, Any]:
    return body(
        input=input,
        voice=voice,
        model=model,
        response_format=response_format,
        speed=speed,
        instructions=instructions,
        stream_format=stream_format,
    )


class Audio(_Resource[J, B, N]):
    """The OpenAI-compatible endpoint (`/v1/audio/speech`). `speech_stream` (on the client's subclass) iterates."""

    def speech(self, input: str, *, idempotency_key: str | None = None, **options: Any) -> B:
        """The whole audio: options voice, model, response_format, speed, instructions, stream_format."""
        request = Request(
            "POST",
            "/v1/audio/speech",
            json=speech_body(input, **options),
            headers=idempotency_headers(idempotency_key),
            expect="bytes",
        )
        return self._client._bytes(request)
