"""Checking a code, and completing a flow with a browser-SDK verify token.

Local rules come first (bound, open, not expired, not paused); then one
check is reserved against the kod.mobi session's attempt budget with a
conditional UPDATE *before* kod.mobi is called, so no number of parallel
guesses gets more than ``MAX_ATTEMPTS`` checks of one code. A right code is
redeemed at once with the secret key and accepted only when kod.mobi names
this flow's own destination.
"""

from __future__ import annotations

import logging
import string
from datetime import timedelta

from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.views.decorators.debug import sensitive_variables

from django_kodmobi import clock, guards, limits, signals, users
from django_kodmobi.client import (
    KodMobiBlockedError,
    KodMobiError,
    KodMobiSessionExpiredError,
    KodMobiWrongCodeError,
)
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import EventKind, KodSession, OTPSession, Status
from django_kodmobi.provider import kodmobi_language

from . import upstream
from .context import challenge, client_ip
from .flows import expire, get_flow_session, record_event, require_open, update
from .recording import fail, hold_verification, lock, mark_verified, record

__all__ = [
    "check_code",
    "complete_with_token",
    "finish_verification",
    "flow_to_check",
    "normalize_code",
    "redeem_code",
    "verify_code",
]

logger = logging.getLogger("django_kodmobi.services")

#: What a code may be typed or pasted with: dropped (RFC 8628 §6.1).
_NOISE = str.maketrans("", "", string.punctuation + string.whitespace)
#: The longest input read for a code: a pasted message line (one SMS).
MAX_CODE_INPUT = 160
_MAX_VERIFY_TOKEN = 512


def normalize_code(code: object) -> str:
    """The code in what a person typed or pasted; refuse anything else.

    Punctuation and spaces are dropped, as allauth's normaliser does
    (``123-456``, ``123 456``, ``123.456``, ``123_456``), and the case is
    kept. A whole message line pasted (``Your code: 123456.``) gives its one
    word of the code's length with a digit in it; none, or two, is refused.
    """
    if not isinstance(code, str) or len(code) > MAX_CODE_INPUT:
        raise VerificationError(Failure.INVALID_CODE)
    cleaned = code.translate(_NOISE)
    if not _is_code(cleaned):
        words = {word.translate(_NOISE) for word in code.split()}
        found = [word for word in words if _is_code(word) and _has_digit(word)]
        if len(found) != 1:
            raise VerificationError(Failure.INVALID_CODE)
        cleaned = found[0]
    return cleaned


def _is_code(text: str) -> bool:
    return text.isascii() and text.isalnum() and len(text) == settings.CODE_LENGTH


def _has_digit(text: str) -> bool:
    return any(char.isdigit() for char in text)


@sensitive_variables("code", "cleaned", "flow_token", "result")
def verify_code(
    session_id: str,
    flow_token: str,
    code: str,
    *,
    challenge_token: str | None = None,
    request: HttpRequest | None = None,
) -> OTPSession:
    """Check ``code``; on success the session is ``verified`` and can log in.

    Guesses are limited per kod.mobi session (``MAX_ATTEMPTS``), per
    identifier (``FAILURE_COOLDOWNS``, ``MAX_FAILURES``) and, with
    ``request``, per client IP (``RATE_LIMITS["verify_per_ip"]``).

    :raises VerificationError: ``not_found``, ``invalid_code`` (with
        ``attempts_left``), ``expired``, ``locked``, ``too_many_failures``,
        ``already_used``, ``destination_mismatch``, ``challenge_failed``,
        ``rate_limited`` or ``kodmobi_unavailable``.
    """
    session = flow_to_check(session_id, flow_token, request)
    return check_code(session, code, challenge_token=challenge_token, request=request)


@sensitive_variables("flow_token")
def flow_to_check(
    session_id: str, flow_token: str, request: HttpRequest | None = None
) -> OTPSession:
    """The flow a code is for, once the client's address may check one."""
    if request is not None:
        limits.check_rate("verify_per_ip", client_ip(request))
    return get_flow_session(session_id, flow_token)


@sensitive_variables("code")
def check_code(
    session: OTPSession,
    code: str,
    *,
    challenge_token: str | None = None,
    request: HttpRequest | None = None,
) -> OTPSession:
    """Check ``code`` for a flow the server holds itself (no flow token):
    :func:`verify_code` without the lookup, for devices such as
    :mod:`django_kodmobi.contrib.otp`. The same guards apply."""
    had_streak = redeem_code(
        session, code, challenge_token=challenge_token, request=request
    )
    with transaction.atomic():  # verified, and the streak cleared: one commit
        finish_verification(session, had_streak)
    return session


@sensitive_variables("code", "cleaned", "result")
def redeem_code(
    session: OTPSession,
    code: str,
    *,
    challenge_token: str | None = None,
    request: HttpRequest | None = None,
) -> bool:
    """Check ``code`` at kod.mobi and redeem its verify token: every guard of
    :func:`check_code` but the last step, :func:`finish_verification`, which
    the caller may make part of a larger commit. Return whether the
    identifier had a failure streak (for that step to clear)."""
    ip = client_ip(request) if request is not None else None
    require_open(session)
    if session.status != Status.SENT and not settings.BROWSER_SDK:
        # Nothing was sent for this flow (a start with send=False): it takes
        # no code until it sends one, or it could guess at somebody's.
        raise VerificationError(Failure.EXPIRED)
    cleaned = normalize_code(code)
    challenge_token = challenge(challenge_token)
    ip = ip or session.client_ip
    has_streak = guards.check_flow_streak(session, ip)
    if not OTPSession.objects.reserve_attempt(session):
        raise _budget_spent(session)

    try:
        result = upstream.call(
            lambda kodmobi: kodmobi.check_code(
                session.kodmobi_session_id,
                cleaned,
                language=kodmobi_language(),
                challenge_token=challenge_token,
            ),
            flow=session,
        )
    except (KodMobiWrongCodeError, KodMobiBlockedError) as exc:
        _settle(session)
        raise _reject(session, exc, request, ip) from exc
    except KodMobiSessionExpiredError as exc:
        _settle(session)
        raise _finished_upstream(session, exc) from exc
    except KodMobiError as exc:
        _settle(session)
        failure = record(session, exc, EventKind.FAILED)
        if _checks_left(session) == 0:
            lock(session)  # that was the code's last check
        raise failure from exc
    except BaseException:
        # Not an answer from kod.mobi (the worker is stopping, a bug): the
        # check may not have happened; it is not counted as one.
        OTPSession.objects.give_back_attempt(session)
        raise
    try:
        _confirm(session, result.verify_token, just_answered=True)
    except VerificationError:
        _settle(session)
        raise
    return has_streak


def finish_verification(
    session: OTPSession, had_streak: bool, *, login_follows: bool = False
) -> None:
    """A code confirmed by kod.mobi: the flow is verified (for exactly one
    caller), and the identifier's failure streaks start again.

    ``login_follows``: a login follows in the caller's commit, which writes
    the verification with its own (see :func:`hold_verification`).
    """
    if login_follows:
        hold_verification(session)
    else:
        mark_verified(session)
    if had_streak:
        guards.clear_streak(session.identifier)


@sensitive_variables("verify_token")
def complete_with_token(
    session_id: str,
    flow_token: str,
    verify_token: str,
    *,
    request: HttpRequest | None = None,
) -> OTPSession:
    """Complete a flow whose code the browser checked at kod.mobi itself.

    For ``KODMOBI["BROWSER_SDK"]`` only: the app started the flow (so it is
    bound to this client and this identifier), the browser SDK sent and
    checked the code with the public key, and hands the verify token here.
    The token is redeemed with the secret key and must name this flow's
    kod.mobi session and destination. kod.mobi alone counts the guesses
    made at it directly; the flow's streak guards still apply.

    :raises VerificationError: ``not_found`` (also when ``BROWSER_SDK`` is
        off), ``expired``, ``locked``, ``too_many_failures``,
        ``already_used``, ``destination_mismatch``, ``rate_limited`` or
        ``kodmobi_unavailable``.
    """
    if not settings.BROWSER_SDK:
        raise VerificationError(Failure.NOT_FOUND)
    ip = client_ip(request) if request is not None else None
    limits.check_rate("complete_per_ip", ip)
    session = get_flow_session(session_id, flow_token)
    require_open(session)
    if (
        not isinstance(verify_token, str)
        or not 0 < len(verify_token) <= _MAX_VERIFY_TOKEN
    ):
        raise VerificationError(Failure.EXPIRED)
    had_streak = guards.check_flow_streak(session, ip or session.client_ip)
    _confirm(session, verify_token, same_session=True)
    with transaction.atomic():  # verified, and the streak cleared: one commit
        finish_verification(session, had_streak)
    return session


@sensitive_variables("verify_token", "verification")
def _confirm(
    session: OTPSession,
    verify_token: str,
    *,
    same_session: bool = False,
    just_answered: bool = False,
) -> None:
    """Redeem ``verify_token`` with the secret key; it must name this flow
    (``just_answered``: kod.mobi has just given it, in reply to the code)."""
    try:
        verification = upstream.call(
            lambda kodmobi: kodmobi.verify_token(
                verify_token, language=kodmobi_language()
            ),
            flow=session,
            just_answered=just_answered,
        )
    except KodMobiError as exc:
        # Nobody may log in on an unconfirmed reply.
        raise fail(session, exc, EventKind.FAILED) from exc
    try:
        confirmed = users.normalize_identifier(verification.destination).value
    except VerificationError:
        confirmed = ""
    names_this_flow = constant_time_compare(confirmed, session.identifier)
    if same_session:
        names_this_flow &= constant_time_compare(
            verification.session_id, session.kodmobi_session_id
        )
    if not names_this_flow:
        update(session, status=Status.FAILED, last_error="destination_mismatch")
        record_event(session, EventKind.FAILED, detail="destination_mismatch")
        logger.warning(
            "kod.mobi verified another destination for session %s", session.pk
        )
        raise VerificationError(Failure.DESTINATION_MISMATCH)


def _checks_left(session: OTPSession) -> int:
    """Checks left on the code of ``session``, whichever flow makes them."""
    used = (
        KodSession.objects.filter(pk=session.kodmobi_session_id)
        .values_list("attempts", flat=True)
        .first()
    )
    return max(0, settings.MAX_ATTEMPTS - (used or 0))


def _budget_spent(session: OTPSession) -> VerificationError:
    """No check left for this flow: say so at once, without waiting on the
    checks of other requests.

    When the flow joined a code another client had sent and used up the
    joined flows' share, only this flow locks: the code's own checks stay
    with the flow that sent it. When the code's whole budget is spent, the
    last check to end without success locks every flow on it. If none is in
    flight, none will: lock now (``locked``). If one is, it may hold the
    right code, and locking now would make it fail: this request is told
    to try again in a second (``rate_limited``), by when the answer is known
    (``already_used`` or ``locked``). A check in flight for longer than a
    kod.mobi deadline died with its worker and no longer counts.
    """
    session.refresh_from_db(fields=["status", "expires_at"])
    code = KodSession.objects.filter(pk=session.kodmobi_session_id)
    if session.is_open and not session.is_expired():
        if code.filter(attempts__lt=settings.MAX_ATTEMPTS).exists():
            lock(session, this_flow_only=True)  # its joined share is spent
        elif _check_in_flight(session, code):
            return VerificationError(Failure.RATE_LIMITED, retry_after=1)
        else:
            lock(session)
        # What the lock, or a check that ended meanwhile, left.
        session.refresh_from_db(fields=["status", "expires_at"])
    try:
        require_open(session)
    except VerificationError as exc:
        return exc
    return VerificationError(Failure.LOCKED)  # pragma: no cover - locked above


def _check_in_flight(session: OTPSession, code: QuerySet[KodSession]) -> bool:
    """Whether a check of ``code`` may still turn out right: one is counted
    and has not ended, it started within a kod.mobi deadline, and no flow
    on the code has been verified yet (the right code, checked, ends none
    of the counts)."""
    stale = clock.now() - timedelta(seconds=settings.DEADLINE + 1)
    if not code.filter(attempts__gt=F("failures"), checked_at__gt=stale).exists():
        return False
    return not OTPSession.objects.filter(
        kodmobi_session_id=session.kodmobi_session_id,
        status__in=(Status.VERIFIED, Status.CONSUMED),
    ).exists()


def _settle(session: OTPSession) -> None:
    """A check of ``session``'s code ended without success: it is no longer
    in flight (:func:`_budget_spent`)."""
    KodSession.objects.filter(pk=session.kodmobi_session_id).update(
        failures=F("failures") + 1
    )


def _finished_upstream(
    session: OTPSession, exc: KodMobiSessionExpiredError
) -> VerificationError:
    """kod.mobi takes no more codes for this session: find out why.

    kod.mobi ends a session early when its right code was checked: by a
    concurrent request of this flow (a double submit whose winner may still
    be confirming) or by another flow on the same code. That is
    ``already_used``, and the flow must stay as it is, or the winner fails
    too. Only when no other check could have taken the code did the session
    run out at kod.mobi first (its clock ahead of ours): ``expired``.
    """
    session.refresh_from_db(
        fields=["status", "expires_at", "attempts", "failed_attempts"]
    )
    if session.is_expired():
        expire(session)
        return VerificationError(Failure.EXPIRED)
    # This check is one attempt; any other that was not a wrong code may
    # have been the right one.
    sibling_checks = session.attempts - session.failed_attempts - 1
    taken_elsewhere = (
        OTPSession.objects.filter(
            kodmobi_session_id=session.kodmobi_session_id,
            status__in=(Status.VERIFIED, Status.CONSUMED),
        )
        .exclude(pk=session.pk)
        .exists()
    )
    if session.status != Status.SENT or sibling_checks > 0 or taken_elsewhere:
        return VerificationError(Failure.ALREADY_USED)
    return record(session, exc, EventKind.FAILED)


def _reject(
    session: OTPSession,
    exc: KodMobiWrongCodeError | KodMobiBlockedError,
    request: HttpRequest | None,
    ip: str | None,
) -> VerificationError:
    """Record a wrong code. kod.mobi answers the last one it takes with a block."""
    OTPSession.objects.filter(pk=session.pk).update(
        failed_attempts=F("failed_attempts") + 1, last_error=upstream.error_code(exc)
    )
    session.failed_attempts += 1
    guards.record_failure(session.identifier, ip, session.device_key)
    # The flow's own count, or what is left of the code's shared budget.
    blocked = isinstance(exc, KodMobiBlockedError)
    left = 0 if blocked else min(session.attempts_left, _checks_left(session))
    record_event(
        session, EventKind.CODE_REJECTED, session.channel, f"attempt {session.attempts}"
    )
    signals.code_rejected.send(
        sender=OTPSession, session=session, attempts_left=left, last_attempt=left == 0
    )
    # For lockout tools such as django-axes; the identifier goes out masked.
    user_login_failed.send(
        sender=__name__,
        credentials={
            "kodmobi_identifier": session.masked_identifier,
            "kodmobi_session_id": session.pk,
        },
        request=request,
    )
    if left == 0:
        lock(session)
        return VerificationError(Failure.LOCKED)
    return VerificationError(Failure.INVALID_CODE, attempts_left=left)
