"""Dashboard page for voices: the library of built-in voices with previews, and cloned voices (record consent
and a sample in the browser, watch verification live)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from billing.selectors import plan_for
from controls.switches import SwitchName, switch_is_on
from core.exceptions import ApplicationError
from core.security_headers import permissions_policy

from .selectors import (
    cloned_voices_unavailable_reason,
    voice_list_for,
    voice_profile_get_for,
    voice_profiles_for,
)
from .serializers import voice_profile_payload
from .services import voice_profile_delete

SUGGESTED_SCRIPT = (
    "The weather today is bright and clear, with a light wind from the west. Later this evening we expect a few "
    "clouds, but no rain at all. I like to walk in the park when the air is fresh and the streets are quiet."
)


# The one page that records (consent and the voice sample): the microphone, for this origin only.
@permissions_policy(microphone=["self"])
@login_required
@ensure_csrf_cookie
def voices_page(request):
    plan = plan_for(user=request.user)
    profiles = list(voice_profiles_for(user=request.user))
    context = {
        "profiles": profiles,
        # The page renders live state from the same payloads the API and websocket send.
        "payloads": [voice_profile_payload(profile) for profile in profiles],
        "challenge_minutes": settings.CONSENT_CHALLENGE_TTL // 60,
        "statement_share": f"{settings.CONSENT_STATEMENT_THRESHOLD:.0%}",
        "plan": plan,
        "cloning_on": switch_is_on(SwitchName.VOICE_CLONING),
        "suggested_script": SUGGESTED_SCRIPT,
        "max_mb": settings.VOICE_UPLOAD_MAX_BYTES // (1024 * 1024),
        # The library: built-in voices, each with a preview a worker makes once (synthesis' voice-preview page).
        "builtin_voices": [voice for voice in voice_list_for(user=request.user) if voice.kind == "builtin"],
        # Said before anyone records: a deployment without a cloning engine verifies voices it can never speak with.
        "no_cloning_engine": not settings.CLONING_ENGINE,
        "cloned_voices_reason": cloned_voices_unavailable_reason(plan=plan),
    }
    return render(request, "voices/voices.html", context)


@login_required
@require_POST
def voice_delete_view(request, voice_id):
    try:
        profile = voice_profile_get_for(user=request.user, profile_id=voice_id)
        voice_profile_delete(profile=profile)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Deleted the voice “{profile.name}”.")
    return redirect("voices")
