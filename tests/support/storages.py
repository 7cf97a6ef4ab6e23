"""A media storage whose bucket is out of reach for its next N writes, as S3Storage is when the network drops:
botocore's EndpointConnectionError (not the built-in ConnectionError), then a normal folder again."""

from botocore.exceptions import EndpointConnectionError
from django.core.files.storage import FileSystemStorage

unreachable_writes = {"count": 0}


class UnreachableOnceStorage(FileSystemStorage):
    def _save(self, name, content):
        if unreachable_writes["count"] > 0:
            unreachable_writes["count"] -= 1
            raise EndpointConnectionError(endpoint_url=f"http://bucket.invalid/{name}")
        return super()._save(name, content)
