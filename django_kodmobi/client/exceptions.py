"""The client's exception hierarchy and the one table that picks a class.

Everything the client raises is a :class:`KodMobiError`. A refusal from the
service (a reply with an error body) is a :class:`KodMobiAPIError` subclass
chosen by ``sys_message`` first and the HTTP status second, so a status that
differs from what we expect changes nothing. A wrong code is an API refusal
here; the service layer turns it into a user outcome. No exception carries the
API key: it lives only in the request headers, which are never kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "KodMobiAPIError",
    "KodMobiAuthenticationError",
    "KodMobiBadRequestError",
    "KodMobiBalanceError",
    "KodMobiBlockedError",
    "KodMobiDestinationBlockedError",
    "KodMobiChallengeError",
    "KodMobiChannelCountryError",
    "KodMobiChannelError",
    "KodMobiChannelInactiveError",
    "KodMobiChannelNotEnabledError",
    "KodMobiConfigurationError",
    "KodMobiConnectionError",
    "KodMobiError",
    "KodMobiNotFoundError",
    "KodMobiRateLimitError",
    "KodMobiResponseError",
    "KodMobiServerError",
    "KodMobiSessionExpiredError",
    "KodMobiTimeoutError",
    "KodMobiWrongCodeError",
    "api_error_from_reply",
]


class KodMobiError(Exception):
    """Root of everything the kod.mobi client raises."""


class KodMobiConfigurationError(KodMobiError, ValueError):
    """The client lacks something a call needs (the secret key)."""


class KodMobiConnectionError(KodMobiError):
    """No usable answer: refused, reset, DNS or TLS failure."""


class KodMobiTimeoutError(KodMobiConnectionError, TimeoutError):
    """The service did not connect or answer within the timeout."""


class KodMobiResponseError(KodMobiError):
    """A reply arrived but is not what the protocol promises (not JSON, wrong shape,
    too large)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class KodMobiAPIError(KodMobiError):
    """The service refused the request with an error body."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        sys_message: str = "",
        error_params: Mapping[str, Any] | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        #: The localised, human-readable text from the service (``error``).
        self.message = message
        self.status = status
        #: The stable machine code, e.g. ``ERROR_SESSION_EXPIRED``.
        self.sys_message = sys_message
        self.error_params: Mapping[str, Any] = dict(error_params or {})
        self.payload: Mapping[str, Any] = dict(payload or {})

    def __str__(self) -> str:
        code = self.sys_message or "no sys_message"
        return f"HTTP {self.status} {code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, "
            f"sys_message={self.sys_message!r}, message={self.message!r}, "
            f"error_params={dict(self.error_params)!r})"
        )

    def _int_param(self, name: str) -> int | None:
        """A count or a number of seconds, clamped to ``0..MAX_PARAM``."""
        value = self.error_params.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if value != value or value in (float("inf"), float("-inf")):
            return None  # NaN or infinite: not a number anybody can wait for
        return max(0, min(MAX_PARAM, int(value)))


#: The largest count or number of seconds taken from ``error_params`` (a day).
MAX_PARAM = 86_400


class KodMobiBadRequestError(KodMobiAPIError):
    """The request was invalid (bad phone, email, channel or body)."""


class KodMobiAuthenticationError(KodMobiAPIError):
    """The API key is missing or wrong, or a public key was used on a secret route.

    This is the integrator's misconfiguration, never the end user's fault.
    """


class KodMobiChannelError(KodMobiAPIError):
    """The code cannot go through the requested channel."""


class KodMobiChannelNotEnabledError(KodMobiChannelError):
    """The project has no such channel (or no channels at all)."""


class KodMobiChannelInactiveError(KodMobiChannelError):
    """The user is not connected on that channel (e.g. never opened the bot)."""


class KodMobiChannelCountryError(KodMobiChannelError):
    """The channel is not allowed for the destination's country."""


class KodMobiSessionExpiredError(KodMobiAPIError):
    """The session (or verify token) expired, was used up or never existed."""


class KodMobiWrongCodeError(KodMobiAPIError):
    """The code did not match."""

    @property
    def attempts(self) -> int | None:
        """Wrong attempts used so far in this session (``error_params.count``)."""
        return self._int_param("count")


class KodMobiRateLimitError(KodMobiAPIError):
    """Sent again before the channel timeout ran out."""

    @property
    def retry_after(self) -> int | None:
        """Seconds to wait before the channel can send (``error_params.timeout``)."""
        return self._int_param("timeout")


class KodMobiBlockedError(KodMobiAPIError):
    """Too many wrong codes: the session or the destination is blocked."""


class KodMobiDestinationBlockedError(KodMobiBlockedError):
    """Too many wrong codes across sessions: the destination is blocked."""

    @property
    def retry_after(self) -> int | None:
        """Seconds the block lasts, when kod.mobi says (``error_params.timeout``)."""
        return self._int_param("timeout")


class KodMobiChallengeError(KodMobiAPIError):
    """The CAPTCHA challenge token is missing or wrong."""


class KodMobiNotFoundError(KodMobiAPIError):
    """The requested object (a manual message) does not exist."""


class KodMobiBalanceError(KodMobiAPIError):
    """The kod.mobi account balance is too low to send."""


class KodMobiServerError(KodMobiAPIError):
    """The service failed (HTTP 5xx)."""


_BY_SYS_MESSAGE: dict[str, type[KodMobiAPIError]] = {
    "ERROR_BAD_REQUEST": KodMobiBadRequestError,
    "ERROR_ACCESS_DENIED": KodMobiAuthenticationError,
    "ERROR_PROJECT_HAS_NO_CHANNELS": KodMobiChannelNotEnabledError,
    "ERROR_PROJECT_HAS_NO_CHANNEL": KodMobiChannelNotEnabledError,
    "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL": KodMobiChannelInactiveError,
    "ERROR_CHANNEL_NOT_ALLOWED_COUNTRY": KodMobiChannelCountryError,
    "ERROR_SESSION_EXPIRED": KodMobiSessionExpiredError,
    "ERROR_MESSAGE_WRONG_CODE": KodMobiWrongCodeError,
    "ERROR_MESSAGE_ATTEMPT": KodMobiRateLimitError,
    "ERROR_BLOCKED": KodMobiBlockedError,
    "ERROR_PHONE_BLOCKED": KodMobiDestinationBlockedError,
    "ERROR_CHALLENGE": KodMobiChallengeError,
    "ERROR_MESSAGE_NOT_FOUND": KodMobiNotFoundError,
    "ERROR_WRONG_BALANCE": KodMobiBalanceError,
}

_BY_STATUS: dict[int, type[KodMobiAPIError]] = {
    400: KodMobiBadRequestError,
    401: KodMobiAuthenticationError,
    403: KodMobiAuthenticationError,
    404: KodMobiNotFoundError,
    429: KodMobiRateLimitError,
}


def api_error_from_reply(status: int, body: Any) -> KodMobiAPIError:
    """Build the exception for an error reply (``status`` >= 400).

    ``body`` is the decoded JSON, or anything else when the reply was not an
    object; the class then comes from the status alone.
    """
    payload: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    sys_message = payload.get("sys_message")
    sys_message = sys_message if isinstance(sys_message, str) else ""
    message = payload.get("error") or payload.get("message")
    if not isinstance(message, str) or not message:
        message = f"kod.mobi answered HTTP {status}"
    params = payload.get("error_params")
    error_params = params if isinstance(params, Mapping) else {}

    cls = _BY_SYS_MESSAGE.get(sys_message)
    if cls is None:
        cls = KodMobiServerError if status >= 500 else _BY_STATUS.get(status)
    return (cls or KodMobiAPIError)(
        message,
        status=status,
        sys_message=sys_message,
        error_params=error_params,
        payload=payload,
    )
