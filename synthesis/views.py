"""Dashboard pages for synthesis: the synthesize page, the history and the pronunciation dictionary."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods, require_POST

from core.exceptions import ApplicationError
from voices.selectors import voice_list_for

from .errors import PronunciationNotFound
from .formats import OUTPUT_FORMATS
from .pronunciations import pronunciation_create, pronunciation_delete, pronunciation_update
from .selectors import job_list_for, pronunciation_get_for, pronunciation_list_for
from .serializers import job_audio_path


@login_required
@ensure_csrf_cookie
def dashboard(request):
    context = {
        # Built-in voices and the account's active cloned voices.
        "voices": [voice for voice in voice_list_for(user=request.user) if voice.status == "active"],
        "default_voice": settings.DEFAULT_VOICE_ID,
        # Headerless pcm and ulaw are API-only: a browser cannot play them.
        "formats": [name for name, fmt in OUTPUT_FORMATS.items() if fmt.playable],
        "max_chars": settings.TTS_MAX_TEXT_CHARS,
        "recent": [(job, job_audio_path(job) if job.audio else None) for job in job_list_for(user=request.user)[:5]],
    }
    return render(request, "synthesis/dashboard.html", context)


@login_required
def history(request):
    page = Paginator(job_list_for(user=request.user), 20).get_page(request.GET.get("page"))
    rows = [(job, job_audio_path(job) if job.audio else None) for job in page]
    return render(request, "synthesis/history.html", {"page": page, "rows": rows})


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
