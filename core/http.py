"""HTTP helpers: file responses that honour `Range`, so audio players can seek without downloading it all."""

from __future__ import annotations

import re

from django.http import FileResponse as DjangoFileResponse
from django.http import HttpResponse, StreamingHttpResponse

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CHUNK = 256 * 1024


class FileResponse(DjangoFileResponse):
    """Django's FileResponse, read in 256 KiB blocks instead of 4 KiB. Under ASGI each block is one message to
    the server: a 600 KB WAV was 150 sends through Daphne (a third of the time of fetching it), now 3."""

    block_size = _CHUNK


def _chunks(file, start: int, length: int):
    try:
        file.seek(start)
        while length > 0:
            data = file.read(min(_CHUNK, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        file.close()


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
    response = StreamingHttpResponse(_chunks(file, start, length), status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Content-Disposition"] = disposition
    response["Accept-Ranges"] = "bytes"
    return response
