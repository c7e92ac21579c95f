"""Device trust: a client that has logged in as a phone or email before.

OWASP's "device cookies" scheme (Slow Down Online Guessing Attacks with
Device Cookies): after a login by code, the browser (a cookie) or the app
(``device_token`` in the API's reply) holds a signed token naming the
identifier it logged in as. When it starts a flow for that identifier
again, the lockouts that strangers can set off for the identifier (its
failure streak, the lock at ``MAX_FAILURES``, the shared send cap) do not
apply to it: it has budgets of its own, and its own pauses. So the owner
still logs in from a browser they used before while strangers are locked
out.

The token is signed with ``SECRET_KEY`` and holds no phone or email: each
entry is a keyed hash of the identifier with a random device id and the
time it was issued. One browser used for several accounts holds one entry
per account (at most :data:`MAX_ENTRIES`, the oldest dropped). A new id is
issued at every login, as OWASP asks.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings as django_settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from . import clock
from .conf import settings
from .limits import digest

__all__ = [
    "COOKIE_NAME",
    "MAX_ENTRIES",
    "device_key",
    "issue",
    "remember",
    "token_from_request",
    "user_device_key",
]

#: The browser's cookie.
COOKIE_NAME = "kodmobi_device"
#: Accounts one device token remembers.
MAX_ENTRIES = 5
#: Longest token accepted, so a forged cookie costs nothing to refuse.
_MAX_TOKEN = 2048
_SALT = "django_kodmobi.devices"


def _entry_name(identifier: str) -> str:
    return digest(f"device-for:{identifier}")[:16]


def _entries(token: str) -> dict[str, list[Any]]:
    """The token's entries, or none when it is not one of ours."""
    if not token or len(token) > _MAX_TOKEN:
        return {}
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return {}
    entries = data.get("d") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {
        name: value
        for name, value in entries.items()
        if isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], (int, float))
    }


def device_key(token: str, identifier: str) -> str:
    """The key of the device ``token`` names for ``identifier``, or ``""``
    when the token does not vouch for it (none, forged, or too old)."""
    entry = _entries(token).get(_entry_name(identifier))
    if entry is None:
        return ""
    device_id, issued = entry
    if clock.epoch() - issued > settings.DEVICE_TRUST_DAYS * 86400:
        return ""
    return digest(f"device:{device_id}")


def issue(identifier: str, token: str = "") -> str:
    """``token`` with a new device id for ``identifier`` (after a login)."""
    entries = _entries(token)
    entries.pop(_entry_name(identifier), None)
    entries[_entry_name(identifier)] = [secrets.token_urlsafe(12), int(clock.epoch())]
    newest = sorted(entries.items(), key=lambda item: item[1][1])[-MAX_ENTRIES:]
    return signing.dumps({"d": dict(newest)}, salt=_SALT, compress=True)


def token_from_request(request: HttpRequest) -> str:
    """The device token a browser holds (its cookie)."""
    return str(request.COOKIES.get(COOKIE_NAME, ""))


def remember(request: HttpRequest, response: HttpResponse, identifier: str) -> None:
    """Give the browser a device token for ``identifier`` (after a login)."""
    response.set_cookie(
        COOKIE_NAME,
        issue(identifier, token_from_request(request)),
        max_age=settings.DEVICE_TRUST_DAYS * 86400,
        secure=django_settings.SESSION_COOKIE_SECURE or request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


def user_device_key(user_pk: object) -> str:
    """The device key of a signed-in user's own requests: a step-up, a new
    contact or a second factor is asked for by the account itself."""
    return digest(f"user-device:{user_pk}")
