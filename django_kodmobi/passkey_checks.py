"""System checks for passkeys: the library is there, and the relying party
is one the browsers will accept (kodmobi.E015).

A wrong RP ID or origin does not fail loudly at run time: the browser or
the server just refuses every passkey. So both are checked at start-up.
"""

from __future__ import annotations

import importlib.util
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Error

from .check_ids import check_id
from .conf import settings

__all__ = ["USER_VERIFICATION_POLICIES", "origin_problem", "passkey_checks"]

USER_VERIFICATION_POLICIES = ("required", "preferred")

#: Hosts a browser treats as a secure context over plain http.
_LOOPBACK_HOSTS = ("localhost",)


def passkey_checks(raw: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    policy = raw.get("PASSKEY_USER_VERIFICATION", "required")
    if policy not in USER_VERIFICATION_POLICIES:
        messages.append(
            Error(
                "KODMOBI['PASSKEY_USER_VERIFICATION'] must be "
                f'"required" or "preferred", not {policy!r}.',
                id=check_id("kodmobi.E003"),
            )
        )
    if not settings.PASSKEYS:
        return messages

    def problem(text: str, hint: str) -> None:
        messages.append(Error(text, hint=hint, id=check_id("kodmobi.E015")))

    if importlib.util.find_spec("webauthn") is None:
        problem(
            "KODMOBI['PASSKEYS'] is on, but the webauthn package is not installed.",
            'pip install "django-kodmobi[passkeys]"',
        )
    rp_id = settings.PASSKEY_RP_ID
    if not _is_domain(rp_id):
        problem(
            f"KODMOBI['PASSKEY_RP_ID'] must be the site's domain, not {rp_id!r}.",
            'The host the pages are served from, or a parent of it: "example.com" '
            "(no scheme, port or path; not an IP address).",
        )
        return messages
    origins = settings.PASSKEY_ORIGINS
    if not origins:
        problem(
            "KODMOBI['PASSKEY_ORIGINS'] is empty.",
            f'The origins the login pages are served from: ("https://{rp_id}",).',
        )
    for origin in origins:
        reason = origin_problem(origin, rp_id)
        if reason:
            problem(
                f"KODMOBI['PASSKEY_ORIGINS'] has {origin!r}: {reason}.",
                f'An origin such as "https://{rp_id}" or "https://www.{rp_id}".',
            )
    return messages


def origin_problem(origin: str, rp_id: str) -> str:
    """Why a browser would not run a ceremony for ``rp_id`` on ``origin``,
    or "" when it would."""
    parts = urlsplit(str(origin))
    if not parts.scheme or not parts.hostname or parts.path or parts.query:
        return "not an origin (scheme://host[:port], nothing after)"
    host = parts.hostname
    if parts.scheme != "https" and not (
        parts.scheme == "http" and host in _LOOPBACK_HOSTS
    ):
        return "passkeys need https (plain http only on localhost)"
    if host != rp_id and not host.endswith("." + rp_id):
        return f"its host is not {rp_id} or under it"
    return ""


def _is_domain(value: str) -> bool:
    if not value or value != value.lower() or any(c in value for c in ":/@ "):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "." in value or value in _LOOPBACK_HOSTS
    return False
