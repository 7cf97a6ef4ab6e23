"""HTTP helpers: stored files streamed a block at a time, with `Range`, so audio players can seek without
downloading it all.

Django's own FileResponse is a synchronous iterator; under ASGI Django consumes such an iterator whole (`list()`)
before the first byte goes out, so a 60 MB recording sat in memory once per download. And django-storages' S3
file downloads the whole object to a temporary file on its first read, so a `Range` request for 100 bytes of
it fetched all of it from the bucket. `FileResponse` here is an asynchronous iterator: one block in memory at a
time, each read in a thread as the server asks for it, and an S3 object is read straight from the bucket, only
the bytes the response sends (a ranged GET).
"""

from __future__ import annotations

import os
import re

from asgiref.sync import sync_to_async
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
# Under ASGI each block is one message to the server: a 600 KB WAV in Django's 4 KiB blocks was 150 sends through
# Daphne (a third of the time of fetching it), in these 3.
_CHUNK = 256 * 1024


def _open_reader(file, start: int, length: int):
    """A `read(n)` for `length` bytes of `file` from `start`, and what to close after: an S3 object (django-storages'
    S3File, whose `obj` is the boto3 Object) is read by a ranged GET of just those bytes; any other file by seeking."""
    obj = getattr(file, "obj", None)
    if obj is not None and callable(getattr(obj, "get", None)):
        body = obj.get(Range=f"bytes={start}-{start + length - 1}")["Body"]
        return body.read, body.close
    file.seek(start)
    return file.read, None


class _Blocks:
    """`length` bytes of `file` from `start`, a block at a time, then `file` closed: iterated in a thread per block
    by an ASGI server (`__aiter__`), or directly by a synchronous caller (`__iter__`: WSGI, the test client)."""

    def __init__(self, file, start: int, length: int) -> None:
        self.file, self.start, self.length = file, start, length
        self.read = self.close_body = None
        self.closed = False

    def _next(self) -> bytes:
        """The next block (b"" at the end); the file is opened with the first and closed with the last, so a small
        file costs the ASGI server one hop to a thread, not three."""
        if self.read is None:
            self.read, self.close_body = _open_reader(self.file, self.start, self.length)
        data = self.read(min(_CHUNK, self.length)) if self.length > 0 else b""
        self.length -= len(data)
        if self.length <= 0 or not data:
            self._close()
        return data

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.close_body is not None:
            self.close_body()
        self.file.close()

    def __iter__(self):
        try:
            while self.length > 0 and (data := self._next()):
                yield data
        finally:
            self._close()

    async def __aiter__(self):
        step = sync_to_async(self._next, thread_sensitive=False)
        try:
            while self.length > 0 and (data := await step()):
                yield data
        finally:
            if not self.closed:  # stopped early (the client went away): close in a thread too
                await sync_to_async(self._close, thread_sensitive=False)()


class FileResponse(StreamingHttpResponse):
    """`length` bytes of an open stored file from `start` (default: all of it), streamed a block at a time; see the
    module's docstring. `Content-Length` is set; `Content-Disposition` is inline, named `filename` (default: the
    file's own name)."""

    def __init__(
        self, file, *, content_type: str, filename: str = "", start: int = 0, length: int | None = None, status=200
    ) -> None:
        if length is None:
            length = max(file.size - start, 0)
        self._blocks = _Blocks(file, start, length)
        # A synchronous iterator for Django (streaming_content, WSGI); ASGI servers get `__aiter__` below.
        super().__init__(iter(self._blocks), status=status, content_type=content_type)
        self._resource_closers.append(file.close)  # also when the body is never sent
        self["Content-Length"] = str(length)
        filename = filename or os.path.basename(getattr(file, "name", "") or "")
        if filename:
            self["Content-Disposition"] = content_disposition_header(False, filename)

    def __aiter__(self):
        # Django's ASGI handler sends `aiter(response)`: each block read in a thread as it goes, instead of Django
        # reading a synchronous iterator whole (list()) before the first byte.
        return self._blocks.__aiter__()


def ranged_file_response(request, file, *, size: int, content_type: str, filename: str):
    """200 with the whole file, 206 with one requested byte range, or 416 for a range outside the file.

    Only single ranges are served (what audio and video elements ask for); anything else gets the whole file.
    """
    disposition = f'inline; filename="{filename}"'
    match = _RANGE.fullmatch(request.headers.get("Range", "").strip())
    if not match or not (match[1] or match[2]):
        response = FileResponse(file, content_type=content_type)
        response["Content-Disposition"] = disposition
        response["Accept-Ranges"] = "bytes"
        return response
    if match[1]:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    else:  # a suffix: the last N bytes
        start, end = max(size - int(match[2]), 0), size - 1
    if start >= size or start > end:
        file.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    length = end - start + 1
    response = FileResponse(file, content_type=content_type, start=start, length=length, status=206)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Disposition"] = disposition
    response["Accept-Ranges"] = "bytes"
    return response
