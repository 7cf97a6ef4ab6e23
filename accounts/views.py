"""Dashboard pages for accounts: sign up and verify the email, log in (with a second factor when enrolled) and out,
password reset and change, two-factor enrolment, API keys."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from controls.switches import SwitchName, switch_is_on
from core.clientip import client_ip
from core.exceptions import ApplicationError

from .emails import verification_email_send
from .errors import LoginThrottled, MfaCodeInvalid, VerificationLinkExpired, VerificationLinkInvalid
from .forms import ApiKeyCreateForm, LoginForm, SignupForm, TotpCodeForm
from .mfa import (
    mfa_required_for,
    totp_check,
    totp_device_for,
    totp_enrolment_confirm,
    totp_enrolment_device,
    totp_qr_svg,
    totp_remove,
    totp_secret,
)
from .models import User
from .selectors import api_key_list_for
from .services import api_key_create, api_key_revoke, user_create, user_email_verify
from .throttle import (
    login_check,
    login_failure_record,
    login_success_record,
    password_reset_take,
    signup_give_back,
    signup_take,
    verification_email_take,
)

_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
# Between a right password and the second factor: who is logging in, kept in the (not yet authenticated) session.
_MFA_PENDING_SESSION_KEY = "mfa_pending"
MFA_PENDING_SECONDS = 300


def _safe_next(request, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


# ---------------------------------------------------------------------------------------------------------------
# Sign-up and email verification
# ---------------------------------------------------------------------------------------------------------------
def _verification_email(request, user: User) -> None:
    """Send the link and say so (or why not) on the next page."""
    try:
        verification_email_take(user_pk=user.pk)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return
    if verification_email_send(user=user, request=request):
        messages.info(request, f"We sent a verification link to {user.email}. Follow it to start using the API.")
    else:
        messages.error(request, "We could not send the verification email just now. Ask for a new one below.")


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            slot = signup_take(ip=client_ip(request))
            try:
                user = user_create(
                    email=form.cleaned_data["email"], password=form.cleaned_data["password"], self_service=True
                )
            except ApplicationError:
                signup_give_back(slot)
                raise
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            status = exc.status_code if exc.status_code >= 429 else 200
        else:
            login(request, user, backend=_MODEL_BACKEND)
            _verification_email(request, user)
            return redirect("dashboard")
    context = {"form": form, "signups_open": switch_is_on(SwitchName.NEW_SIGNUPS)}
    return render(request, "accounts/signup.html", context, status=status)


@never_cache
@require_http_methods(["GET"])
def verify_email(request, token: str):
    try:
        verification = user_email_verify(token=token)
    except VerificationLinkInvalid as exc:
        context = {"error": exc.message, "expired": isinstance(exc, VerificationLinkExpired)}
        return render(request, "accounts/verify_email.html", context, status=400)
    context = {"verified_email": verification.user.email, "newly": verification.newly}
    return render(request, "accounts/verify_email.html", context)


@login_required
@require_POST
def verify_email_resend(request):
    if request.user.email_verified:
        messages.info(request, "Your email address is verified already.")
    else:
        _verification_email(request, request.user)
    return redirect(_safe_next(request, reverse("account-security")))


# ---------------------------------------------------------------------------------------------------------------
# Log-in: password (throttled), then the second factor for users who enrolled one
# ---------------------------------------------------------------------------------------------------------------
class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if totp_device_for(user=user) is not None:
            self.request.session[_MFA_PENDING_SESSION_KEY] = {
                "user": user.pk,
                "backend": getattr(user, "backend", _MODEL_BACKEND),
                "since": time.time(),
                "next": self.get_success_url(),
            }
            return redirect("login-code")
        response = super().form_valid(form)
        login_success_record(email=user.email)
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
            response["Retry-After"] = str(form.throttled.retry_after)
        return response


def _pending_login(request) -> tuple[User, dict] | None:
    pending = request.session.get(_MFA_PENDING_SESSION_KEY)
    if not pending or time.time() - pending.get("since", 0) > MFA_PENDING_SECONDS:
        request.session.pop(_MFA_PENDING_SESSION_KEY, None)
        return None
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    return (user, pending) if user is not None else None


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request):
    """The second step of a log-in (after the right password), or a signed-in user proving the second factor
    before the staff pages."""
    if request.user.is_authenticated:
        if request.user.is_verified():
            return redirect(_safe_next(request, reverse("dashboard")))
        user, pending = request.user, None
        next_url = _safe_next(request, reverse("dashboard"))
    else:
        found = _pending_login(request)
        if found is None:
            messages.error(request, "Log in again: the code must follow the password within 5 minutes.")
            return redirect("login")
        user, pending = found
        next_url = pending["next"]
    if totp_device_for(user=user) is None:
        return redirect(f"{reverse('mfa-setup')}?{urlencode({'next': next_url})}")
    form = TotpCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        try:
            login_check(email=user.email, ip=ip)
            device = totp_check(user=user, token=form.cleaned_data["code"])
        except LoginThrottled as exc:
            form.add_error(None, exc.message)
            status = 429
        except MfaCodeInvalid as exc:
            login_failure_record(email=user.email, ip=ip)
            form.add_error("code", exc.message)
        else:
            if pending is not None:
                request.session.pop(_MFA_PENDING_SESSION_KEY, None)
                user.otp_device = device  # django-otp marks the new session verified as `login` completes
                login(request, user, backend=pending["backend"])
            else:
                otp_login(request, device)
            login_success_record(email=user.email)
            return redirect(next_url)
    return render(request, "registration/login_code.html", {"form": form, "next": next_url}, status=status)


# ---------------------------------------------------------------------------------------------------------------
# Password reset (by email) and change: Django's views, our templates, the reset throttled per address
# ---------------------------------------------------------------------------------------------------------------
class PasswordResetView(auth_views.PasswordResetView):
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        try:
            password_reset_take(ip=client_ip(self.request))
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            response = self.form_invalid(form)
            response.status_code = exc.status_code
            return response
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        # The owner proved the address: a lock on the account from someone guessing its password ends.
        login_success_record(email=form.user.email)
        return response


# ---------------------------------------------------------------------------------------------------------------
# Account security: email status, password, second factor
# ---------------------------------------------------------------------------------------------------------------
@login_required
def account_security(request):
    context = {
        "device": totp_device_for(user=request.user),
        "mfa_required": mfa_required_for(request.user),
    }
    return render(request, "accounts/security.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def mfa_setup(request):
    next_url = _safe_next(request, reverse("account-security"))
    if totp_device_for(user=request.user) is not None:
        messages.info(request, "Two-factor authentication is on already.")
        return redirect(next_url)
    device = totp_enrolment_device(user=request.user)
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = totp_enrolment_confirm(user=request.user, device_id=device.pk, token=form.cleaned_data["code"])
        except MfaCodeInvalid as exc:
            form.add_error("code", exc.message)
        else:
            otp_login(request, device)  # this session has just proven the second factor
            messages.success(request, "Two-factor authentication is on: each log-in now asks for a code.")
            return redirect(next_url)
    context = {
        "form": form,
        "secret": totp_secret(device),
        "qr_svg": mark_safe(totp_qr_svg(device)),  # noqa: S308 - generated here from our own otpauth URL
        "required": mfa_required_for(request.user),
        "next": next_url,
        "issuer": settings.OTP_TOTP_ISSUER,
    }
    return render(request, "accounts/mfa_setup.html", context)


@login_required
@require_POST
def mfa_remove(request):
    if mfa_required_for(request.user):
        messages.error(request, "Staff accounts must keep two-factor authentication on.")
        return redirect("account-security")
    form = TotpCodeForm(request.POST)
    try:
        if not form.is_valid():
            raise MfaCodeInvalid()
        totp_remove(user=request.user, token=form.cleaned_data["code"])
    except MfaCodeInvalid as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Two-factor authentication is off.")
    return redirect("account-security")


# ---------------------------------------------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------------------------------------------
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
