"""Silent unknowns: a login for a phone or email with no account costs nothing.

With ``UNKNOWN_IDENTIFIERS = "silent"`` (the default) and no signup for it,
a start for an identifier that belongs to nobody sends no message and never
reaches kod.mobi. Its reply cannot be told from a real one: the same keys
and sizes, a plausible channel list, and it takes as long as kod.mobi
usually does (:func:`observe`, :func:`pause`). Its flow refuses every code as
a wrong one would, under the same limits, and the audit says
``unknown_identifier``. ``"code"`` keeps the older way: the code is sent,
and the login is refused once it is typed.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

from ulid import ULID

from . import guards, soft_cache, users
from .client import (
    CheckResult,
    KodMobiAuthenticationError,
    KodMobiWrongCodeError,
    SendResult,
    Session,
    SessionChannel,
    Verification,
)
from .conf import settings
from .provider import kodmobi_language

__all__ = [
    "AUDIT_NOTE",
    "SilentClient",
    "observe",
    "pause",
    "silent_if_unknown",
]

#: The detail of a silent flow's "created" event.
AUDIT_NOTE = "unknown_identifier"

#: A kod.mobi round trip before this process has timed one (seconds).
_TYPICAL_SECONDS = 0.15
_typical = _TYPICAL_SECONDS


def silent_if_unknown(identifier: users.Identifier) -> bool:
    """Whether a login start for ``identifier`` is to be silent if nobody
    has it: the setting says so, and no signup would make an account."""
    return settings.UNKNOWN_IDENTIFIERS == "silent" and not users.signup_allowed(
        identifier
    )


def observe(seconds: float) -> None:
    """Remember how long a kod.mobi call took (a moving average, per process)."""
    global _typical
    _typical += (seconds - _typical) * 0.2


def pause() -> None:
    """Take as long as a kod.mobi call would, give or take 10 %."""
    time.sleep(_typical * random.uniform(0.9, 1.1))  # noqa: S311 - not a secret


class SilentClient:
    """Answers a silent flow's calls as kod.mobi would, sending nothing.

    Every answer is made up here and takes kod.mobi's usual time; a code is
    always wrong. Nothing is kept: the flow's row holds what there is.
    """

    def __init__(self, identifier: str) -> None:
        self.kind = users.normalize_identifier(identifier).kind

    def create_session(
        self, to: str, *, channel: str | None = None, send: bool = True, **_: object
    ) -> Session:
        pause()
        channels = self._channels()
        sent_to = (channel or channels[0].type) if send and channels else None
        return Session(
            session_id=str(ULID()),
            expires_at=self._expiry(),
            sent_to=sent_to,
            channels=self._channels(sent_to),
        )

    def send_code(self, session_id: str, channel: str, **_: object) -> SendResult:
        pause()
        sent = next(c for c in self._channels(channel) if c.type == channel)
        return SendResult(
            session_id=session_id, expires_at=self._expiry(), channel=sent
        )

    def get_channels(
        self, session_id: str | None, **_: object
    ) -> tuple[SessionChannel, ...]:
        pause()
        return self._channels()

    def check_code(self, session_id: str, code: str, **_: object) -> CheckResult:
        pause()
        raise KodMobiWrongCodeError(
            "Wrong code.", status=400, sys_message="ERROR_WRONG_CODE"
        )

    def verify_token(self, token: str, **_: object) -> Verification:
        raise KodMobiAuthenticationError(  # no code ever passed: no token either
            "No such token.", status=401, sys_message="ERROR_TOKEN"
        )

    def _channels(self, sent: str | None = None) -> tuple[SessionChannel, ...]:
        """The project's channels that could reach this kind of identifier,
        as kod.mobi lists them after a send (the one it used counting down):
        from the cached list, with its names, icons and links, when there is
        one; kod.mobi is never asked for it here."""
        cached = soft_cache.get(f"kodmobi:channels:{kodmobi_language()}")
        project: list[dict[str, object]] = (
            [c for c in cached if isinstance(c, dict)]
            if isinstance(cached, list)
            else [{"type": kind} for kind in ("telegram", "whatsapp", "sms", "email")]
        )
        return tuple(
            SessionChannel.from_payload(
                {
                    **item,
                    "is_active": item["type"] != sent,
                    "timeout": settings.RESEND_COOLDOWN if item["type"] == sent else 0,
                }
            )
            for item in project
            if guards.fits(self.kind, str(item.get("type")))
        )

    @staticmethod
    def _expiry() -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=settings.SESSION_TTL)
