"""Trusted browsers: after a code, a person may trust this browser for
``TRUST_BROWSER_DAYS``; step-up and the second factor are skipped on it.

The browser holds a signed cookie with a random secret. The database holds a :class:`~django_kodmobi.models.TrustedBrowser` row keyed by
a hash of that secret, so trust is checked, and revoked, on the server: a
copied table logs nobody in, and a cookie outlives nothing its row does.

Trust ends, with its reason on the row:

- when its owner forgets their trusted browsers;
- on :func:`log_out_everywhere`;
- on a password change, however the password was set (``set_password``
  and save, or any write of the field: the row keeps a keyed hash of the
  password hash it was given under);
- when a contact is removed (it may be the phone that was lost).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings as django_settings
from django.contrib import auth
from django.core import signing
from django.http import HttpRequest, HttpResponse

from django_kodmobi import clock
from django_kodmobi.conf import settings
from django_kodmobi.limits import digest
from django_kodmobi.models import TrustedBrowser, TrustEnd

__all__ = [
    "COOKIE_NAME",
    "forget_browsers",
    "log_out_everywhere",
    "offers_trust",
    "revoke_trust",
    "trust_browser",
    "trusted_browser",
    "trusted_browsers_of",
]

#: The browser's cookie.
COOKIE_NAME = "kodmobi_trust"
_SALT = "django_kodmobi.trust"
#: Longest cookie read, so a forged one costs nothing to refuse.
_MAX_COOKIE = 512
#: Where one request keeps what it found (a guard may ask twice).
_FOUND = "_kodmobi_trusted_browser"


def offers_trust() -> bool:
    """Whether people are offered to trust a browser (``TRUST_BROWSER_DAYS``)."""
    return settings.TRUST_BROWSER_DAYS > 0


def _row_id(secret: str) -> uuid.UUID:
    return uuid.UUID(bytes=hashlib.sha256(secret.encode()).digest()[:16])


def _password_digest(user: Any) -> str:
    return digest(f"trust-password:{user.password}")


def trust_browser(request: HttpRequest, response: HttpResponse) -> TrustedBrowser:
    """Trust this browser for the logged-in user (right after their code).

    A trust this browser held before ends (``replaced``): one at a time.
    """
    user: Any = request.user
    previous = trusted_browser(request)
    if previous is not None:
        _end(TrustedBrowser.objects.filter(pk=previous.pk), TrustEnd.REPLACED)
    secret = secrets.token_urlsafe(32)
    days = settings.TRUST_BROWSER_DAYS
    row = TrustedBrowser.objects.create(
        id=_row_id(secret),
        user_id=user.pk,
        password_digest=_password_digest(user),
        expires_at=clock.now() + timedelta(days=days),
    )
    response.set_cookie(
        COOKIE_NAME,
        signing.dumps({"s": secret}, salt=_SALT),
        max_age=days * 86400,
        secure=django_settings.SESSION_COOKIE_SECURE or request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    setattr(request, _FOUND, (user.pk, row))
    return row


def trusted_browser(request: HttpRequest) -> TrustedBrowser | None:
    """This browser's trust for the logged-in user, or ``None`` (no cookie,
    a forged one, another user's, expired, revoked, or given under an older
    password: that last one is revoked here, with its reason)."""
    user_pk = getattr(getattr(request, "user", None), "pk", None)
    found = getattr(request, _FOUND, None)
    if found is None or found[0] != user_pk:  # asked first, or as someone else
        found = (user_pk, _find(request))
        setattr(request, _FOUND, found)
    row: TrustedBrowser | None = found[1]
    return row


def _find(request: HttpRequest) -> TrustedBrowser | None:
    user: Any = getattr(request, "user", None)
    token = str(request.COOKIES.get(COOKIE_NAME, ""))
    if user is None or not user.is_authenticated or not token:
        return None
    if len(token) > _MAX_COOKIE:
        return None
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    secret = data.get("s") if isinstance(data, dict) else None
    if not isinstance(secret, str):
        return None
    row = (
        TrustedBrowser.objects.in_force()
        .filter(pk=_row_id(secret), user_id=user.pk)
        .first()
    )
    if row is None:
        return None
    if not hmac.compare_digest(row.password_digest, _password_digest(user)):
        # The password changed where no receiver saw it (an update()).
        _end(TrustedBrowser.objects.filter(pk=row.pk), TrustEnd.PASSWORD_CHANGED)
        return None
    return row


def trusted_browsers_of(user: Any) -> int:
    """How many browsers ``user`` trusts now."""
    return TrustedBrowser.objects.in_force().filter(user_id=user.pk).count()


def _end(rows: Any, reason: TrustEnd) -> int:
    ended: int = rows.filter(revoked_at__isnull=True).update(
        revoked_at=clock.now(), revoked_reason=reason
    )
    return ended


def revoke_trust(user_pk: Any, reason: TrustEnd) -> int:
    """End every trust of a user; return how many ended."""
    return _end(TrustedBrowser.objects.filter(user_id=user_pk), reason)


def forget_browsers(request: HttpRequest, response: HttpResponse) -> int:
    """The owner ends every trust of their account, this browser's included."""
    response.delete_cookie(COOKIE_NAME, samesite="Lax")
    return revoke_trust(request.user.pk, TrustEnd.FORGOTTEN)


def log_out_everywhere(request: HttpRequest) -> bool:
    """End every trust of the logged-in user and log this browser out.

    Other browsers are logged out too when the account has no password: its
    unusable password hash is drawn anew, which ends every Django session
    made under the old one. An account with a password keeps its other
    sessions until the password changes (Django's own rule); returns
    whether the other sessions ended.
    """
    user: Any = request.user
    revoke_trust(user.pk, TrustEnd.LOGGED_OUT_EVERYWHERE)
    others_ended = not user.has_usable_password()
    if others_ended:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    auth.logout(request)
    return others_ended


def end_trust_on_new_password(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``post_save`` of the user model: ``set_password`` then ``save``."""
    if getattr(instance, "_password", None) is not None and not kwargs.get("created"):
        revoke_trust(instance.pk, TrustEnd.PASSWORD_CHANGED)
