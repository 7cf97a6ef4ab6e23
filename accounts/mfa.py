"""The second factor: TOTP devices (django-otp) that a user enrols by scanning a QR code and confirming a code.

A user with a confirmed device is asked for a code at every log-in. With STAFF_REQUIRE_MFA, a staff user must have
one and have used it in this session before /admin/ or the ops panel (`StaffMfaMiddleware`).

django-otp's TOTPDevice does the verifying: a code is accepted within one 30 s step of the clock either way, never
twice (it remembers the last step used), and failures slow further tries down (its throttle). Failed codes also
count as failed log-ins (accounts.throttle).
"""

from __future__ import annotations

import base64

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from .errors import MfaCodeInvalid
from .models import User

DEVICE_NAME = "Authenticator app"


def totp_device_for(*, user) -> TOTPDevice | None:
    """The user's confirmed TOTP device, if any."""
    if getattr(user, "pk", None) is None:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def mfa_required_for(user) -> bool:
    """Whether `user` must have verified a second factor in this session before the staff pages."""
    return bool(settings.STAFF_REQUIRE_MFA and getattr(user, "is_staff", False))


def totp_enrolment_device(*, user: User) -> TOTPDevice:
    """The unconfirmed device the enrolment page shows: the same one on every visit until confirmed, so a code
    scanned before a reload still works."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def totp_secret(device: TOTPDevice) -> str:
    """The key as authenticator apps take it by hand (base32, without padding)."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def totp_qr_svg(device: TOTPDevice) -> str:
    """An inline SVG QR code of the device's otpauth:// URL (no image request, nothing sent anywhere)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return image.to_string(encoding="unicode")


def totp_enrolment_confirm(*, user: User, device_id: int, token: str) -> TOTPDevice:
    """Confirm the enrolment with a code from the app; raise MfaCodeInvalid. Other unconfirmed devices go."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, pk=device_id, confirmed=False).first()
        verified = device is not None and _verify(device, token)
        if verified:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    if not verified:  # raised outside the transaction, which keeps the device's failure count
        raise MfaCodeInvalid()
    return device


def totp_check(*, user: User, token: str) -> TOTPDevice:
    """The user's confirmed device if `token` is its current code; raise MfaCodeInvalid."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("id").first()
        verified = device is not None and _verify(device, token)
    if not verified:  # outside the transaction, which keeps the device's failure count
        raise MfaCodeInvalid()
    return device


def totp_remove(*, user: User, token: str) -> None:
    """Turn the second factor off, proven with a current code; raise MfaCodeInvalid."""
    totp_check(user=user, token=token)
    TOTPDevice.objects.filter(user=user).delete()


def _verify(device: TOTPDevice, token: str) -> bool:
    token = "".join((token or "").split())
    # verify_token refuses during django-otp's slow-down after failures, and counts this failure towards it.
    return token.isdigit() and len(token) == device.digits and bool(device.verify_token(token))
