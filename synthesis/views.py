"""Dashboard pages for synthesis: the synthesize page, the history, voice previews and the pronunciation
dictionary."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.exceptions import ApplicationError
from voices.errors import VoiceNotFound

from .errors import PronunciationNotFound
from .filenames import job_audio_filename
from .formats import OUTPUT_FORMATS
from .models import JobStatus
from .playground import playground_for
from .previews import voice_preview_job
from .pronunciations import pronunciation_create, pronunciation_delete, pronunciation_update
from .selectors import job_list_for, pronunciation_get_for, pronunciation_list_for
from .serializers import job_audio_path


def _audio_links(job) -> dict | None:
    """The player source and download link of a job's audio (signed, so no API key is needed), or None."""
    if not job.audio:
        return None
    path = job_audio_path(job)
    return {
        "src": path,
        "download": f"{path}&download=1",
        "filename": job_audio_filename(job),
        # pcm and ulaw are headerless: a browser cannot play them, so they get a download link and no player.
        "playable": OUTPUT_FORMATS[job.output_format].playable,
    }


@login_required
@ensure_csrf_cookie
def dashboard(request):
    context = {
        **playground_for(user=request.user),
        "default_voice": settings.DEFAULT_VOICE_ID,
        "recent": [(job, _audio_links(job)) for job in job_list_for(user=request.user)[:5]],
    }
    return render(request, "synthesis/dashboard.html", context)


@login_required
def history(request):
    page = Paginator(job_list_for(user=request.user), 20).get_page(request.GET.get("page"))
    rows = [(job, _audio_links(job)) for job in page]
    return render(request, "synthesis/history.html", {"page": page, "rows": rows})


@login_required
@require_GET
def voice_preview(request, voice_id):
    """The preview of a built-in voice: its status, and a signed audio link once a worker has made it."""
    try:
        job = voice_preview_job(voice_id=voice_id)
    except VoiceNotFound as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=404)
    audio = _audio_links(job) if job is not None and job.status == JobStatus.SUCCEEDED else None
    return JsonResponse(
        {
            "voice_id": voice_id,
            "status": job.status if job is not None else "waiting",
            "audio_url": audio["src"] if audio else None,
        }
    )


class PronunciationForm(forms.Form):
    word = forms.CharField(max_length=100)
    replacement = forms.CharField(max_length=200)
    case_sensitive = forms.BooleanField(required=False)
    whole_word = forms.BooleanField(required=False, initial=True)


def _pronunciation_or_404(request, pronunciation_id):
    try:
        return pronunciation_get_for(user=request.user, pronunciation_id=pronunciation_id)
    except PronunciationNotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_http_methods(["GET", "POST"])
def pronunciations(request):
    form = PronunciationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            entry = pronunciation_create(user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"“{entry.word}” is now said as “{entry.replacement}”.")
            return redirect("pronunciations")
    entries = pronunciation_list_for(user=request.user)
    context = {"form": form, "entries": entries, "max_entries": settings.PRONUNCIATIONS_MAX_PER_ACCOUNT}
    return render(request, "synthesis/pronunciations.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def pronunciation_edit(request, pronunciation_id):
    entry = _pronunciation_or_404(request, pronunciation_id)
    initial = {field: getattr(entry, field) for field in PronunciationForm.base_fields}
    form = PronunciationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            entry = pronunciation_update(user=request.user, pronunciation_id=entry.id, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Saved “{entry.word}”.")
            return redirect("pronunciations")
    return render(request, "synthesis/pronunciation_edit.html", {"form": form, "entry": entry})


@login_required
@require_POST
def pronunciation_delete_view(request, pronunciation_id):
    entry = _pronunciation_or_404(request, pronunciation_id)
    pronunciation_delete(user=request.user, pronunciation_id=entry.id)
    messages.success(request, f"Deleted “{entry.word}”.")
    return redirect("pronunciations")
