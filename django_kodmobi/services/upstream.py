"""Calling kod.mobi: through the circuit breaker, with outcomes for people.

Every kod.mobi call of the services goes through :func:`call`. Its errors
become a :class:`~django_kodmobi.exceptions.VerificationError` through one
table, :data:`OUTCOMES`; whatever is not in it means kod.mobi is not
answering properly (``kodmobi_unavailable``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django_kodmobi import breaker
from django_kodmobi.client import (
    KodMobiAPIError,
    KodMobiAuthenticationError,
    KodMobiBadRequestError,
    KodMobiBalanceError,
    KodMobiBlockedError,
    KodMobiChallengeError,
    KodMobiChannelError,
    KodMobiClient,
    KodMobiDestinationBlockedError,
    KodMobiError,
    KodMobiRateLimitError,
    KodMobiSessionExpiredError,
)
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import OTPSession
from django_kodmobi.provider import get_client
from django_kodmobi.silent import SilentClient, observe
from django_kodmobi.test_numbers import FixedCodeClient, fixed_code

__all__ = ["OUTCOMES", "call", "error_code", "failure_for"]

logger = logging.getLogger("django_kodmobi.services")

_T = TypeVar("_T")

#: kod.mobi's project has no channel at all to send through.
NO_CHANNELS = "ERROR_PROJECT_HAS_NO_CHANNELS"

#: kod.mobi's refusals and what they mean to the person, first match wins.
OUTCOMES: tuple[tuple[type[KodMobiError], Failure], ...] = (
    (KodMobiRateLimitError, Failure.RESEND_TOO_SOON),
    (KodMobiChannelError, Failure.CHANNEL_UNAVAILABLE),
    (KodMobiChallengeError, Failure.CHALLENGE_FAILED),
    (KodMobiBadRequestError, Failure.INVALID_IDENTIFIER),
    # kod.mobi paused this phone or email: not "ask for a new code".
    (KodMobiDestinationBlockedError, Failure.TOO_MANY_FAILURES),
    (KodMobiBlockedError, Failure.LOCKED),
    (KodMobiSessionExpiredError, Failure.EXPIRED),
)


def call(
    operation: Callable[[KodMobiClient], _T],
    *,
    flow: OTPSession | None = None,
    just_answered: bool = False,
) -> _T:
    """Run ``operation`` with the shared client, under the circuit breaker
    (``just_answered``: kod.mobi has just answered this operation's previous
    call; see :func:`breaker.guard`).

    For a ``flow`` on a test number, or a silent one (an identifier with no
    account), the calls are answered here and never reach kod.mobi: by the
    number's fixed code, or refusing every code."""
    if flow is not None:
        if flow.silent:
            # While kod.mobi is known to be down a real start fails: so
            # must this one, or the outage would tell who has an account.
            breaker.refuse_while_open()
            return operation(SilentClient(flow.identifier))  # type: ignore[arg-type]
        code = fixed_code(flow.identifier)
        if code is not None:
            return operation(FixedCodeClient(flow.identifier, code))  # type: ignore[arg-type]
    with breaker.guard(just_answered=just_answered):
        started = time.monotonic()
        result = operation(get_client())
    # How long kod.mobi takes, so that a silent flow takes as long.
    observe(time.monotonic() - started)
    return result


def failure_for(exc: KodMobiError) -> VerificationError:
    """The person's outcome for a kod.mobi error.

    An error reply without kod.mobi's ``sys_message`` (a proxy's page, a
    gateway's bare 400 or 429) is not kod.mobi refusing anything: whatever
    its status, the service is not answering properly.
    """
    if breaker.is_unexplained(exc):
        return VerificationError(Failure.UNAVAILABLE)
    if isinstance(exc, KodMobiBalanceError) or (
        isinstance(exc, KodMobiAPIError) and exc.sys_message == NO_CHANNELS
    ):
        # The operator must act; the person can only come back later.
        logger.error("kod.mobi cannot send for this site: %s", exc.sys_message)
        return VerificationError(Failure.SENDING_UNAVAILABLE)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        retry_after = max(1, retry_after)  # "wait 0 s" helps nobody
    for error_class, reason in OUTCOMES:
        if isinstance(exc, error_class):
            return VerificationError(reason, retry_after=retry_after)
    if isinstance(exc, KodMobiAuthenticationError):
        # Our keys are wrong: the integrator must act, the person cannot.
        logger.error("kod.mobi refused our API key; check KODMOBI keys: %s", exc)
    return VerificationError(Failure.UNAVAILABLE, retry_after=retry_after)


def error_code(exc: KodMobiError) -> str:
    """The short, non-secret name of ``exc`` for the audit trail."""
    if isinstance(exc, KodMobiAPIError) and exc.sys_message:
        return exc.sys_message[:64]
    return type(exc).__name__[:64]
