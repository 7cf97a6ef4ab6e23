"""Downloads from S3 read only what they send: a Range request for 100 bytes of a 4 MB recording fetches those 100
bytes from the bucket (django-storages alone downloads the whole object on the first read), and a whole download
reaches an ASGI server a block at a time as it is read, never gathered whole first."""

from __future__ import annotations

import asyncio
import os
import uuid
import warnings

import pytest
from django.core.files.base import ContentFile
from django.test import RequestFactory
from storages.backends.s3 import S3Storage

from core.http import ranged_file_response

from .conftest import ACCESS_KEY, BUCKET, REGION, SECRET_KEY

SIZE = 4 * 1024 * 1024 + 123


@pytest.fixture(scope="module")
def stored(moto_s3):
    """A private bucket storage as production configures it, holding one 4 MB object; the byte counts of every
    GetObject answer the bucket sends back."""
    storage = S3Storage(
        bucket_name=BUCKET,
        endpoint_url=moto_s3.endpoint_url,
        region_name=REGION,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        default_acl=None,
        file_overwrite=False,
    )
    data = os.urandom(SIZE)
    name = storage.save(f"audio/{uuid.uuid4().hex}.wav", ContentFile(data))
    fetched: list[int] = []
    storage.connection.meta.client.meta.events.register(
        "after-call.s3.GetObject", lambda parsed, **_: fetched.append(parsed["ContentLength"])
    )
    return storage, name, data, fetched


def _response(storage, name, range_header: str | None = None):
    headers = {"HTTP_RANGE": range_header} if range_header else {}
    request = RequestFactory().get("/audio", **headers)
    return ranged_file_response(
        request, storage.open(name, "rb"), size=SIZE, content_type="audio/wav", filename="a.wav"
    )


def test_a_range_fetches_only_its_bytes_from_the_bucket(stored):
    storage, name, data, fetched = stored
    fetched.clear()

    response = _response(storage, name, "bytes=1000-1099")
    body = b"".join(response)

    assert (response.status_code, response["Content-Range"], response["Content-Length"]) == (
        206,
        f"bytes 1000-1099/{SIZE}",
        "100",
    )
    assert body == data[1000:1100]
    assert fetched == [100]  # one ranged GET; the other 4 MB stayed in the bucket


def test_a_whole_download_reaches_an_asgi_server_block_by_block(stored):
    storage, name, data, fetched = stored
    fetched.clear()
    response = _response(storage, name)

    async def serve() -> list[bytes]:
        # As Django's ASGI handler sends a streaming response: `aiter(response)`.
        return [block async for block in aiter(response)]

    with warnings.catch_warnings():
        # Django warns when it must gather a synchronous iterator whole before sending it.
        warnings.simplefilter("error")
        blocks = asyncio.run(serve())

    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE)
    assert b"".join(blocks) == data
    assert max(len(block) for block in blocks) <= 256 * 1024
    assert len(blocks) == -(-SIZE // (256 * 1024))
    assert fetched == [SIZE]  # one GET, streamed
