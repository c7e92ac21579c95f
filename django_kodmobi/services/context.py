"""Who is asking: the client address and user agent, read safely."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from django.http import HttpRequest

from django_kodmobi import devices
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.limits import address_key

__all__ = ["ClientInfo", "address_key", "challenge", "client_ip"]

#: What a CAPTCHA response token may hold: visible ASCII, as every provider
#: issues them, and all that an HTTP header to kod.mobi can carry.
CHALLENGE_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")


@dataclass(frozen=True)
class ClientInfo:
    """Who is asking, for limits and the audit trail: the client IP and
    user agent, the device token it holds (:mod:`~django_kodmobi.devices`),
    and, for a code to a signed-in user's own verified contact (a step-up,
    a second factor), that user: the account asks for itself, so it counts
    as one of its own devices. Never for a login or a new contact, whose
    destination the asker does not own yet."""

    ip: str | None = None
    user_agent: str = ""
    device_token: str = field(default="", repr=False)
    user_pk: object = None

    @classmethod
    def from_request(cls, request: HttpRequest, device_token: str = "") -> ClientInfo:
        """The client of ``request``; ``device_token`` as an API client sent
        it, else the browser's cookie."""
        return cls(
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:255],
            device_token=device_token or devices.token_from_request(request),
        )

    def device_key(self, identifier: str) -> str:
        """The key of this client's trusted device for ``identifier``, ``""``
        for a client ``identifier`` does not trust."""
        if self.user_pk is not None:
            return devices.user_device_key(self.user_pk)
        return devices.device_key(self.device_token, identifier)

    @property
    def address_key(self) -> str | None:
        """What per-address limits count: :func:`address_key` of the IP."""
        return address_key(self.ip)


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
