"""Dashboard pages for synthesis: the synthesize page and the history."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from odiadev.voices.selectors import voice_list_for

from .formats import OUTPUT_FORMATS
from .selectors import job_list_for
from .serializers import job_audio_path


@login_required
@ensure_csrf_cookie
def dashboard(request):
    context = {
        # Built-in voices and the account's active cloned voices.
        "voices": [voice for voice in voice_list_for(user=request.user) if voice.status == "active"],
        "default_voice": settings.DEFAULT_VOICE_ID,
        "formats": list(OUTPUT_FORMATS),
        "max_chars": settings.TTS_MAX_TEXT_CHARS,
        "recent": [(job, job_audio_path(job) if job.audio else None) for job in job_list_for(user=request.user)[:5]],
    }
    return render(request, "synthesis/dashboard.html", context)


@login_required
def history(request):
    page = Paginator(job_list_for(user=request.user), 20).get_page(request.GET.get("page"))
    rows = [(job, job_audio_path(job) if job.audio else None) for job in page]
    return render(request, "synthesis/history.html", {"page": page, "rows": rows})
