"""Emails the accounts app sends: the verification link (the password reset email is Django's own view).

Sent at once within the request (EMAIL_TIMEOUT bounds a slow server). A failure is logged and reported to the
caller, never raised into the page: the customer can ask for the link again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from .models import User
from .services import email_verification_token

logger = logging.getLogger(__name__)


def verification_email_send(*, user: User, request) -> bool:
    """Email `user` a link that verifies their address; True if the mail server took it."""
    link = request.build_absolute_uri(reverse("verify-email", args=[email_verification_token(user=user)]))
    context = {"user": user, "link": link, "hours": settings.EMAIL_VERIFICATION_MAX_AGE // 3600}
    subject = render_to_string("accounts/email/verify_email_subject.txt", context).strip()
    body = render_to_string("accounts/email/verify_email.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:  # SMTP down, refused, timed out: the page says so and offers "resend"
        logger.exception("verification email to %s not sent", user)
        return False
    return True
