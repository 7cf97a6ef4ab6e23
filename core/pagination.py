"""Page-number pagination with a bounded, client-chosen page size.

`page_size` is an integer from 1 to MAX_PAGE_SIZE, as the schema says (`PAGE_PARAMETERS`); anything else is 400
`invalid_request` rather than DRF's silent fallback to the default or cap at the maximum. A `page` past the last
is DRF's 404 "Invalid page.".
"""

from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import PageNumberPagination

from .exceptions import InvalidRequest

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

PAGE_PARAMETERS = [
    OpenApiParameter(
        "page", {"type": "integer", "minimum": 1}, description="1 for the first page (default); past the last: 404."
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        description=f"Items per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}); outside that: 400.",
    ),
]


class Pagination(PageNumberPagination):
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise InvalidRequest(
                f"page_size must be an integer from 1 to {self.max_page_size}.",
                detail={"page_size": [f"An integer from 1 to {self.max_page_size}."]},
            )
        return size
