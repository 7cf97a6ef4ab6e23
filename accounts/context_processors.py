"""What every dashboard page needs to know about the signed-in account."""


def account_status(request) -> dict:
    """`email_unverified`: the page shows how to verify (and a resend button) until the owner does."""
    user = getattr(request, "user", None)
    unverified = bool(user is not None and user.is_authenticated and not user.email_verified)
    return {"email_unverified": unverified}
