"""Who is asking: the client address and user agent, read safely."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from django.http import HttpRequest

from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError

__all__ = ["ClientInfo", "challenge", "client_ip"]

#: What a CAPTCHA response token may hold: visible ASCII, as every provider
#: issues them, and all that an HTTP header to kod.mobi can carry.
CHALLENGE_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")


@dataclass(frozen=True)
class ClientInfo:
    """The client IP and user agent, for limits and the audit trail."""

    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> ClientInfo:
        return cls(
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:255],
        )


def client_ip(request: HttpRequest) -> str | None:
    """The client IP, trusting ``KODMOBI["TRUSTED_PROXY_COUNT"]`` proxies only.

    With N trusted proxies the N-th ``X-Forwarded-For`` entry from the right
    is the one the outermost trusted proxy saw. Anything that is not an
    address (a port, garbage) falls back to the peer address, never to
    "nobody": a request without an address must not escape the limits.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            address = parse_address(forwarded[-proxies])
            if address:
                return address
    return parse_address(request.META.get("REMOTE_ADDR"))


def parse_address(value: object) -> str | None:
    """``value`` as a normalised IP address, or ``None``.

    Accepts ``203.0.113.5``, ``203.0.113.5:4711``, ``2001:db8::1`` and
    ``[2001:db8::1]:4711``, as proxies write them.
    """
    text = str(value or "").strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def challenge(token: object) -> str | None:
    """A CAPTCHA response to pass on, ``None`` for none; refuse garbage.

    :raises VerificationError: ``challenge_failed``.
    """
    if token in (None, ""):
        return None
    if not isinstance(token, str) or not CHALLENGE_TOKEN.fullmatch(token):
        raise VerificationError(Failure.CHALLENGE_FAILED)
    return token
