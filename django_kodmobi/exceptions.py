"""User outcomes of the login flow.

:class:`VerificationError` is deliberately *not* a
:class:`~django_kodmobi.client.KodMobiError`: a wrong code is something a
person did, not a provider failure, and ``except KodMobiError`` must never
swallow it. Services raise it; views, serializers and the auth backend turn
its :attr:`~VerificationError.reason` into a message, an error code or
``None``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import NamedTuple

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

__all__ = ["MESSAGES", "OUTCOMES", "Failure", "Outcome", "VerificationError"]


class Failure(models.TextChoices):
    INVALID_IDENTIFIER = "invalid_identifier", _("invalid identifier")
    CHANNEL_UNAVAILABLE = "channel_unavailable", _("channel unavailable")
    RESEND_TOO_SOON = "resend_too_soon", _("resend too soon")
    TOO_MANY_RESENDS = "too_many_resends", _("too many resends")
    CHALLENGE_FAILED = "challenge_failed", _("challenge failed")
    INVALID_CODE = "invalid_code", _("invalid code")
    EXPIRED = "expired", _("expired")
    LOCKED = "locked", _("locked")
    TOO_MANY_FAILURES = "too_many_failures", _("too many wrong codes")
    ALREADY_USED = "already_used", _("already used")
    NOT_FOUND = "not_found", _("not found")
    DESTINATION_MISMATCH = "destination_mismatch", _("destination mismatch")
    LOGIN_NOT_ALLOWED = "login_not_allowed", _("login not allowed")
    UNAVAILABLE = "kodmobi_unavailable", _("kod.mobi unavailable")
    #: kod.mobi answers, but cannot send for this site: its balance is too
    #: low, or its project has no channels. Only the operator can fix it.
    SENDING_UNAVAILABLE = "sending_unavailable", _("sending unavailable")
    #: This site's own infrastructure (the cache that counts the limits) is
    #: down: nothing is sent or checked until it is back.
    UNAVAILABLE_HERE = "unavailable", _("temporarily unavailable")
    RATE_LIMITED = "rate_limited", _("rate limited")
    CONTACT_EXISTS = "contact_exists", _("contact already added")
    CONTACT_UNAVAILABLE = "contact_unavailable", _("contact unavailable")
    PASSKEY_REFUSED = "passkey_refused", _("passkey refused")


class Outcome(NamedTuple):
    """What a failure means to a person (``message``) and to HTTP (``status``)."""

    status: HTTPStatus
    message: Promise


#: The one table of failures. Projects may override messages in
#: :data:`MESSAGES`.
OUTCOMES: dict[Failure, Outcome] = {
    Failure.INVALID_IDENTIFIER: Outcome(
        HTTPStatus.BAD_REQUEST, _("Enter a valid phone number or email address.")
    ),
    Failure.CHANNEL_UNAVAILABLE: Outcome(
        HTTPStatus.BAD_REQUEST,
        _("We can't send a code through this channel. Try another one."),
    ),
    Failure.RESEND_TOO_SOON: Outcome(
        HTTPStatus.TOO_MANY_REQUESTS, _("Please wait before asking for another code.")
    ),
    Failure.TOO_MANY_RESENDS: Outcome(
        HTTPStatus.TOO_MANY_REQUESTS,
        _("You have asked for too many codes. Start again in a few minutes."),
    ),
    Failure.CHALLENGE_FAILED: Outcome(
        HTTPStatus.FORBIDDEN, _("Please confirm you are not a robot and try again.")
    ),
    Failure.INVALID_CODE: Outcome(
        HTTPStatus.BAD_REQUEST, _("That code is not right. Check it and try again.")
    ),
    Failure.EXPIRED: Outcome(
        HTTPStatus.BAD_REQUEST, _("This code has expired. Ask for a new one.")
    ),
    Failure.LOCKED: Outcome(
        HTTPStatus.FORBIDDEN, _("Too many wrong codes. Ask for a new code.")
    ),
    Failure.TOO_MANY_FAILURES: Outcome(
        HTTPStatus.TOO_MANY_REQUESTS,
        _("Too many wrong codes for this phone number or email."),
    ),
    Failure.ALREADY_USED: Outcome(
        HTTPStatus.CONFLICT, _("This code has already been used. Ask for a new one.")
    ),
    Failure.NOT_FOUND: Outcome(
        HTTPStatus.NOT_FOUND, _("This login attempt was not found. Start again.")
    ),
    Failure.DESTINATION_MISMATCH: Outcome(
        HTTPStatus.BAD_REQUEST, _("The code could not be confirmed. Start again.")
    ),
    Failure.LOGIN_NOT_ALLOWED: Outcome(
        HTTPStatus.FORBIDDEN, _("This account can't sign in with a one-time code.")
    ),
    Failure.UNAVAILABLE: Outcome(
        HTTPStatus.SERVICE_UNAVAILABLE,
        _("The code service is not answering right now. Try again in a minute."),
    ),
    # Not "try again in a minute": nobody knows when the operator acts.
    Failure.SENDING_UNAVAILABLE: Outcome(
        HTTPStatus.SERVICE_UNAVAILABLE,
        _("We can't send codes right now. Please try again later."),
    ),
    Failure.UNAVAILABLE_HERE: Outcome(
        HTTPStatus.SERVICE_UNAVAILABLE,
        _("Logging in by code is unavailable for a moment. Try again in a minute."),
    ),
    Failure.RATE_LIMITED: Outcome(
        HTTPStatus.TOO_MANY_REQUESTS,
        _("Too many attempts from here."),
    ),
    Failure.CONTACT_EXISTS: Outcome(
        HTTPStatus.CONFLICT,
        _("This phone number or email address is already on your account."),
    ),
    # Said only after the code proved the phone or email is the person's.
    Failure.CONTACT_UNAVAILABLE: Outcome(
        HTTPStatus.CONFLICT,
        _("This phone number or email address belongs to another account."),
    ),
    # One answer for every refusal (the audit keeps which): an unknown
    # passkey, a replay and a removed account all read the same.
    Failure.PASSKEY_REFUSED: Outcome(
        HTTPStatus.BAD_REQUEST,
        _("This passkey was not accepted. Try again, or get a code instead."),
    ),
}

#: What a person is told, per reason. Projects may override entries.
MESSAGES: dict[str, Promise] = {
    reason: outcome.message for reason, outcome in OUTCOMES.items()
}


#: Said after the message when nobody knows how long the wait is; when it is
#: known, pages say it instead ("Try again in 15 minutes.", see
#: ``forms.failure_text``) and the API sends ``Retry-After``.
WAIT_UNKNOWN: dict[Failure, Promise] = {
    Failure.TOO_MANY_FAILURES: _("Try again later."),
    Failure.RATE_LIMITED: _("Try again later."),
}


class VerificationError(Exception):
    """The flow cannot go on, for a reason a person can be told."""

    def __init__(
        self,
        reason: Failure,
        *,
        retry_after: int | None = None,
        attempts_left: int | None = None,
    ) -> None:
        super().__init__(reason.value)
        self.reason = reason
        #: Seconds to wait, for ``resend_too_soon``, ``rate_limited``,
        #: ``too_many_failures`` and ``kodmobi_unavailable``.
        self.retry_after = retry_after
        #: Codes that may still be tried, for ``invalid_code``.
        self.attempts_left = attempts_left

    @property
    def message(self) -> str:
        """What the person is told; how long to wait, when unknown, is part
        of it (the caller says it otherwise)."""
        said = str(MESSAGES[self.reason])
        if self.retry_after or self.reason not in WAIT_UNKNOWN:
            return said
        return f"{said} {WAIT_UNKNOWN[self.reason]}"

    @property
    def http_status(self) -> int:
        return int(OUTCOMES[self.reason].status)

    def __repr__(self) -> str:
        return (
            f"VerificationError({self.reason.value!r}, retry_after={self.retry_after!r}, "
            f"attempts_left={self.attempts_left!r})"
        )
