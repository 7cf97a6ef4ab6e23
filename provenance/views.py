"""The public Provenance page: upload a file, see whether it carries our watermark. No login."""

from django.conf import settings
from django.shortcuts import render

from core.exceptions import ApplicationError

from .services import audio_provenance_verify, provenance_rate_check


def provenance_page(request):
    context = {"max_mb": settings.PROVENANCE_UPLOAD_MAX_BYTES // (1024 * 1024), "result": None, "error": None}
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("audio")
        # The site's per-IP limit counted this request already (middleware): only the strict one here.
        verdict = provenance_rate_check(request, general=False)
        if not verdict.allowed:
            context["error"] = {"code": "rate_limited", "message": verdict.body()["error"]["message"]}
            status = 429
        elif upload is None:
            context["error"] = {"code": "invalid_request", "message": "Choose an audio file to check."}
            status = 400
        elif upload.size > settings.PROVENANCE_UPLOAD_MAX_BYTES:
            message = f"The file is larger than {context['max_mb']} MB."
            context["error"] = {"code": "audio_too_large", "message": message}
            status = 413
        else:
            try:
                context["result"] = audio_provenance_verify(data=upload.read())
            except ApplicationError as exc:
                context["error"] = {"code": exc.code, "message": exc.message}
                status = exc.status_code
        context["filename"] = getattr(upload, "name", "")
    response = render(request, "provenance/provenance.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(verdict.retry_after)
    return response
