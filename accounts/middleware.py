"""The staff pages (/admin/, the ops panel) need a second factor proven in this session when STAFF_REQUIRE_MFA is
on: a staff user without a confirmed TOTP device is sent to enrol one, one with a device to enter its code.

Install after django-otp's OTPMiddleware (which tells whether this session has proven a device)."""

from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .mfa import mfa_required_for, totp_device_for

STAFF_PREFIXES = ("/admin/", "/ops/")


class StaffMfaMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(STAFF_PREFIXES):
            user = request.user
            if user.is_authenticated and mfa_required_for(user) and not user.is_verified():
                where = "login-code" if totp_device_for(user=user) is not None else "mfa-setup"
                return redirect(f"{reverse(where)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
