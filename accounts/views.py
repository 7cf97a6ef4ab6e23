"""Dashboard pages for accounts: sign up, log in/out, API keys."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from controls.switches import SwitchName, switch_is_on
from core.exceptions import ApplicationError

from .forms import ApiKeyCreateForm, SignupForm
from .selectors import api_key_list_for
from .services import api_key_create, api_key_revoke, user_create


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(
                email=form.cleaned_data["email"], password=form.cleaned_data["password"], self_service=True
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("dashboard")
    return render(request, "accounts/signup.html", {"form": form, "signups_open": switch_is_on(SwitchName.NEW_SIGNUPS)})


_ISSUED_SESSION_KEY = "api_key_just_issued"


@never_cache  # shows a new key's secret: never stored by the browser or a cache between
@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request):
    form = ApiKeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        issued = api_key_create(user=request.user, name=form.cleaned_data["name"])
        # Post/redirect/get, so that reloading the page cannot issue a second key. The secret rides in the
        # session for exactly one page view and is removed as it is shown.
        request.session[_ISSUED_SESSION_KEY] = {"secret": issued.secret, "name": issued.api_key.name}
        return redirect("api-keys")
    context = {
        "keys": api_key_list_for(user=request.user),
        "issued": request.session.pop(_ISSUED_SESSION_KEY, None),
        "form": form,
    }
    return render(request, "accounts/api_keys.html", context)


@login_required
@require_POST
def api_key_revoke_view(request, key_id):
    try:
        api_key = api_key_revoke(user=request.user, key_id=key_id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Revoked {api_key.name} ({api_key.prefix}…).")
    return redirect("api-keys")
