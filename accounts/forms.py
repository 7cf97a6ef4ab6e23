from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from core.clientip import client_ip

from .errors import LoginThrottled
from .throttle import login_check, login_failure_record


class SignupForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, required=False)


class LoginForm(AuthenticationForm):
    """Django's log-in form behind the failed-log-in throttle (accounts.throttle): while the account or the
    address is locked the password is not even checked, so the right one is refused too."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong email or password.",
    }

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request is not None else None
        try:
            login_check(email=email, ip=ip)
        except LoginThrottled as exc:
            self.throttled = exc
            raise ValidationError(exc.message, code="throttled") from exc
        try:
            cleaned = super().clean()
        except ValidationError as exc:
            if any(error.code == "invalid_login" for error in exc.error_list):
                login_failure_record(email=email, ip=ip)
            raise
        return cleaned  # the view clears the account's failures once the log-in is complete (second factor too)


class TotpCodeForm(forms.Form):
    code = forms.CharField(
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "pattern": "[0-9 ]*"}
        ),
    )
