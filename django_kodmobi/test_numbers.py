"""Test numbers: phones (or emails) whose code is fixed and never sent.

App-store review needs an account it can log in to without a SIM:
``KODMOBI["TEST_NUMBERS"] = {"+79990000000": "246810"}``. A flow for such a
number goes through every guard of a login (limits, attempts per code,
failure streaks, expiry), but kod.mobi is never called: :class:`FixedCodeClient`
answers in its place, holding nothing between calls, so every worker
agrees. Each such flow's "created" event says ``test_number`` in the
audit. System check kodmobi.E014 refuses test numbers while ``DEBUG`` is off
unless ``TEST_NUMBERS_IN_PRODUCTION`` says they are meant.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from django.utils.crypto import constant_time_compare, salted_hmac
from ulid import ULID

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
from .exceptions import VerificationError

__all__ = ["AUDIT_NOTE", "FixedCodeClient", "fixed_code"]

#: The detail of a test-number flow's "created" event.
AUDIT_NOTE = "test_number"


def fixed_code(identifier: str) -> str | None:
    """The fixed code of ``identifier`` (normalized), if it is a test number.
    Every kod.mobi call of a flow asks: the setting is read each time (so
    ``override_settings`` works), its entries normalized once."""
    numbers = settings.TEST_NUMBERS
    if not numbers:
        return None
    entries = frozenset((str(number), str(code)) for number, code in numbers.items())
    return _by_identifier(entries).get(identifier)


@functools.lru_cache(maxsize=8)
def _by_identifier(numbers: frozenset[tuple[str, str]]) -> Mapping[str, str]:
    """``TEST_NUMBERS`` by normalized identifier, as flows store them."""
    from .users import normalize_identifier

    by_identifier: dict[str, str] = {}
    for identifier, code in numbers:
        try:
            by_identifier[normalize_identifier(identifier).value] = code
        except VerificationError:
            continue  # system check kodmobi.E003 reports it
    return by_identifier


class FixedCodeClient:
    """Answers the login calls for one test number, as kod.mobi would.

    Its session IDs are ULIDs and its verify tokens are signed with the
    site's ``SECRET_KEY``, so nothing is kept here: the flow's row holds the
    state, and any worker can answer any call.
    """

    def __init__(self, identifier: str, code: str) -> None:
        self.identifier = identifier
        self.code = code
        self.channel = "email" if "@" in identifier else "sms"

    def create_session(
        self, to: str, *, channel: str | None = None, send: bool = True, **_: object
    ) -> Session:
        return Session(
            session_id=str(ULID()),
            expires_at=self._expiry(),
            sent_to=self.channel if send else None,
            channels=(self._channel(sent=send),),
        )

    def send_code(self, session_id: str, channel: str, **_: object) -> SendResult:
        return SendResult(
            session_id=session_id,
            expires_at=self._expiry(),
            channel=self._channel(sent=True),
        )

    def get_channels(
        self, session_id: str | None, **_: object
    ) -> tuple[SessionChannel, ...]:
        # The flow's row keeps its own countdowns; none is told here.
        return (self._channel(sent=False),)

    def _channel(self, *, sent: bool) -> SessionChannel:
        """Its one channel, counting down after a send as kod.mobi's do."""
        return SessionChannel.from_payload(
            {
                "name": "Email" if self.channel == "email" else "SMS",
                "type": self.channel,
                "is_active": not sent,
                "timeout": settings.RESEND_COOLDOWN if sent else 0,
            }
        )

    def check_code(self, session_id: str, code: str, **_: object) -> CheckResult:
        if not constant_time_compare(code.upper(), self.code.upper()):
            raise KodMobiWrongCodeError(
                "Wrong code.", status=400, sys_message="ERROR_WRONG_CODE"
            )
        return CheckResult(
            verify_token=f"{session_id}.{_signature(session_id)}", is_test=True
        )

    def verify_token(self, token: str, **_: object) -> Verification:
        session_id, _dot, signature = token.partition(".")
        if not hmac.compare_digest(signature, _signature(session_id)):
            raise KodMobiAuthenticationError(
                "Not a test number's token.", status=401, sys_message="ERROR_TOKEN"
            )
        return Verification(
            destination=self.identifier, session_id=session_id, sent_to=self.channel
        )

    @staticmethod
    def _expiry() -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=settings.SESSION_TTL)


def _signature(session_id: str) -> str:
    return salted_hmac(
        "django_kodmobi.test_numbers", session_id, algorithm="sha256"
    ).hexdigest()
