"""The login use cases: start, resend, verify, complete, log in.

The only module with rules. Every counter changes through one conditional
UPDATE; no transaction is held open across a kod.mobi call; a row is written
before kod.mobi is called, so a failure upstream leaves a ``failed`` row with
its reason instead of nothing. Signals are sent from here only.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.debug import sensitive_variables

from . import limits, signals, users
from .client import (
    KodMobiAPIError,
    KodMobiAuthenticationError,
    KodMobiBadRequestError,
    KodMobiBlockedError,
    KodMobiChallengeError,
    KodMobiChannelError,
    KodMobiError,
    KodMobiRateLimitError,
    KodMobiSessionExpiredError,
    KodMobiWrongCodeError,
    SessionChannel,
)
from .conf import settings
from .exceptions import Failure, VerificationError
from .models import (
    OPEN_STATUSES,
    EventKind,
    IdentifierKind,
    OTPEvent,
    OTPSession,
    Purpose,
    Status,
)
from .provider import get_client, kodmobi_language

__all__ = [
    "ClientInfo",
    "Flow",
    "authenticate_flow",
    "channel_waits",
    "complete_with_token",
    "get_channels",
    "get_flow_session",
    "log_in",
    "redeem_for_login",
    "resend_code",
    "start_login",
    "verify_code",
]

logger = logging.getLogger("django_kodmobi.services")

_CODE_NOISE = re.compile(r"[\s\-]+")
_MAX_CODE_INPUT = 32


@dataclass(frozen=True)
class ClientInfo:
    """Who is asking: the client IP and user agent, for the audit trail."""

    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> ClientInfo:
        return cls(
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:255],
        )


def client_ip(request: HttpRequest) -> str | None:
    """The client IP, trusting ``KODMOBI["TRUSTED_PROXY_COUNT"]`` proxies only."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    address = request.META.get("REMOTE_ADDR")
    return str(address) if address else None


@dataclass(frozen=True)
class Flow:
    """A login flow in progress: the session and the token that binds it.

    The caller keeps both (the Django session for pages, the API client for
    the REST API) and presents them to continue. The token is shown once and
    stored only as a hash.
    """

    session: OTPSession
    token: str = field(repr=False)
    channels: tuple[SessionChannel, ...] = ()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _event(
    session: OTPSession, kind: EventKind, channel: str = "", detail: str = ""
) -> None:
    OTPEvent.objects.create(
        session=session, kind=kind, channel=channel, detail=detail[:128]
    )


def _update(session: OTPSession, **values: Any) -> None:
    """Write ``values`` to the row and the instance."""
    values["updated_at"] = timezone.now()
    OTPSession.objects.filter(pk=session.pk).update(**values)
    for name, value in values.items():
        setattr(session, name, value)


def _cooldowns_after_send(
    session: OTPSession, channel: str, timeout: int | None
) -> dict[str, float]:
    cooldowns = dict(session.channel_cooldowns or {})
    wait = timeout if timeout else settings.RESEND_COOLDOWN
    cooldowns[channel] = time.time() + wait
    return cooldowns


def _offered(channels: tuple[SessionChannel, ...]) -> list[dict[str, Any]]:
    return [
        {"type": c.type, "name": c.name, "is_active": c.is_active} for c in channels
    ]


# -- start ---------------------------------------------------------------------


@sensitive_variables("identifier")
def start_login(
    identifier: str,
    *,
    channel: str | None = None,
    send: bool = True,
    purpose: Purpose = Purpose.LOGIN,
    client: ClientInfo | None = None,
    challenge_token: str | None = None,
) -> Flow:
    """Start a flow for ``identifier`` and have kod.mobi send the code.

    ``channel`` picks the channel (channel-first flow); without it kod.mobi
    picks the user's best active channel (sending-first flow). The reply is
    the same whether or not an account exists for ``identifier``.

    :raises VerificationError: ``invalid_identifier``, ``rate_limited`` (no
        row is written), ``channel_unavailable``, ``resend_too_soon``,
        ``challenge_failed``, ``locked`` or ``kodmobi_unavailable``; the row
        then records why.
    """
    normalized = users.normalize_identifier(identifier)
    client = client or ClientInfo()
    # Before any row or call: a flood must cost neither.
    limits.check_rate("start_per_ip", client.ip)
    limits.check_rate("start_per_identifier", normalized.value)
    token = secrets.token_urlsafe(32)
    session = OTPSession.objects.create(
        identifier=normalized.value,
        identifier_kind=normalized.kind,
        purpose=purpose,
        flow_token_hash=_hash_token(token),
        expires_at=timezone.now() + timedelta(minutes=3),
        client_ip=client.ip,
        user_agent=client.user_agent[:255],
    )
    _event(session, EventKind.CREATED, channel or "")
    signals.session_created.send(sender=OTPSession, session=session)

    try:
        reply = get_client().create_session(
            normalized.value,
            channel=channel,
            send=send,
            language=kodmobi_language(),
            challenge_token=challenge_token,
        )
    except KodMobiError as exc:
        raise _fail(session, exc, EventKind.FAILED) from exc

    sent_to = reply.sent_to or ""
    values: dict[str, Any] = {
        "kodmobi_session_id": reply.session_id,
        "expires_at": reply.expires_at,
        "channels_offered": _offered(reply.channels),
    }
    # kod.mobi hands back a live session for the same destination instead of
    # a new one: carry its counters over, so starting again resets nothing.
    previous = (
        OTPSession.objects.filter(kodmobi_session_id=reply.session_id)
        .exclude(pk=session.pk)
        .order_by("-created_at")
        .values(
            "attempts", "failed_attempts", "resends", "channel", "channel_cooldowns"
        )
        .first()
    )
    if previous:
        values.update(previous)
        values["channel"] = previous["channel"] or sent_to
    if sent_to:
        timeout = next((c.timeout for c in reply.channels if c.type == sent_to), None)
        values["channel"] = sent_to
        values["channel_cooldowns"] = _cooldowns_after_send(session, sent_to, timeout)
    if sent_to or previous:
        values["status"] = Status.SENT
    _update(session, **values)
    if sent_to:
        _event(session, EventKind.SENT, sent_to)
        signals.code_sent.send(
            sender=OTPSession, session=session, channel=sent_to, resend=False
        )
    return Flow(session=session, token=token, channels=reply.channels)


# -- binding -----------------------------------------------------------------------


def get_flow_session(session_id: str, flow_token: str) -> OTPSession:
    """Return the session ``flow_token`` binds, or raise ``not_found``.

    An unknown id and a wrong token look the same from outside, so ids
    cannot be probed.
    """
    if not isinstance(session_id, str) or not isinstance(flow_token, str):
        raise VerificationError(Failure.NOT_FOUND)
    session = OTPSession.objects.filter(pk=session_id[:26]).first()
    expected = session.flow_token_hash if session else _hash_token("")
    if not constant_time_compare(expected, _hash_token(flow_token)) or session is None:
        raise VerificationError(Failure.NOT_FOUND)
    return session


def _require_open(session: OTPSession) -> None:
    """Refuse a session that cannot take a code any more, recording expiry."""
    if session.status in (Status.VERIFIED, Status.CONSUMED):
        raise VerificationError(Failure.ALREADY_USED)
    if session.status == Status.LOCKED:
        raise VerificationError(Failure.LOCKED)
    if (
        session.status in (Status.EXPIRED, Status.FAILED)
        or not session.kodmobi_session_id
    ):
        raise VerificationError(Failure.EXPIRED)
    if session.is_expired():
        _expire(session)
        raise VerificationError(Failure.EXPIRED)


def _expire(session: OTPSession) -> None:
    if OTPSession.objects.filter(pk=session.pk, status__in=OPEN_STATUSES).update(
        status=Status.EXPIRED, updated_at=timezone.now()
    ):
        session.status = Status.EXPIRED
        _event(session, EventKind.EXPIRED)


# -- resend ------------------------------------------------------------------------


def resend_code(
    session_id: str,
    flow_token: str,
    channel: str,
    *,
    challenge_token: str | None = None,
) -> OTPSession:
    """Send the code again, through ``channel`` (the same or another).

    Resends are capped per session and never reset the wrong-code count.

    :raises VerificationError: ``not_found``, ``expired``, ``locked``,
        ``already_used``, ``too_many_resends``, ``resend_too_soon`` (with
        ``retry_after``), ``channel_unavailable``, ``challenge_failed`` or
        ``kodmobi_unavailable``.
    """
    session = get_flow_session(session_id, flow_token)
    _require_open(session)
    wait = float((session.channel_cooldowns or {}).get(channel, 0)) - time.time()
    if wait > 0:
        raise VerificationError(Failure.RESEND_TOO_SOON, retry_after=int(wait) + 1)
    # A flow started with send=False has sent nothing yet: its first send
    # is not a resend.
    resend = bool(session.channel)
    if resend and not OTPSession.objects.filter(
        pk=session.pk, status__in=OPEN_STATUSES, resends__lt=settings.MAX_RESENDS
    ).update(resends=F("resends") + 1, updated_at=timezone.now()):
        raise VerificationError(Failure.TOO_MANY_RESENDS)
    try:
        reply = get_client().send_code(
            session.kodmobi_session_id,
            channel,
            language=kodmobi_language(),
            challenge_token=challenge_token,
        )
    except KodMobiError as exc:
        if (
            resend
            and isinstance(exc, KodMobiAPIError)
            and not isinstance(exc, KodMobiBlockedError)
        ):
            # A refusal sent nothing: give the resend back.
            OTPSession.objects.filter(pk=session.pk).update(resends=F("resends") - 1)
        raise _record(session, exc, EventKind.SEND_FAILED, channel) from exc
    session.refresh_from_db(fields=["resends"])
    _update(
        session,
        status=Status.SENT,
        channel=reply.channel.type,
        expires_at=reply.expires_at,
        channel_cooldowns=_cooldowns_after_send(
            session, reply.channel.type, reply.channel.timeout
        ),
        last_error="",
    )
    if resend:
        _event(
            session, EventKind.RESENT, reply.channel.type, f"resend {session.resends}"
        )
    else:
        _event(session, EventKind.SENT, reply.channel.type)
    signals.code_sent.send(
        sender=OTPSession, session=session, channel=reply.channel.type, resend=resend
    )
    return session


def get_channels(session: OTPSession | None = None) -> tuple[SessionChannel, ...]:
    """The channels kod.mobi offers for ``session``, or the project's.

    The project's list changes rarely, so it is cached for
    ``KODMOBI["CHANNELS_CACHE_SECONDS"]``; a session's list is always fresh
    (its activity and timeouts change by the second).

    :raises VerificationError: ``expired`` or ``kodmobi_unavailable``.
    """
    language = kodmobi_language()
    if session is None:
        key = f"kodmobi:channels:{language}"
        cached = cache.get(key)
        if cached is not None:
            return tuple(SessionChannel.from_payload(item) for item in cached)
    try:
        channels = get_client().get_channels(
            session.kodmobi_session_id if session else None, language=language
        )
    except KodMobiError as exc:
        raise _failure_for(exc) from exc
    if session is None:
        cache.set(key, [dict(c.raw) for c in channels], settings.CHANNELS_CACHE_SECONDS)
    return channels


def channel_waits(session: OTPSession) -> dict[str, int]:
    """Seconds each channel must still wait before it may send again."""
    now = time.time()
    return {
        channel: int(until - now) + 1
        for channel, until in (session.channel_cooldowns or {}).items()
        if float(until) > now
    }


# -- verify --------------------------------------------------------------------


def normalize_code(code: object) -> str:
    """Strip spaces and dashes; refuse anything that cannot be a code."""
    if not isinstance(code, str) or len(code) > _MAX_CODE_INPUT:
        raise VerificationError(Failure.INVALID_CODE)
    cleaned = _CODE_NOISE.sub("", code)
    if (
        not cleaned.isascii()
        or not cleaned.isalnum()
        or len(cleaned) != settings.CODE_LENGTH
    ):
        raise VerificationError(Failure.INVALID_CODE)
    return cleaned


@sensitive_variables("code", "flow_token", "result")
def verify_code(
    session_id: str,
    flow_token: str,
    code: str,
    *,
    challenge_token: str | None = None,
    request: HttpRequest | None = None,
) -> OTPSession:
    """Check ``code``; on success the session is ``verified`` and can log in.

    Guesses are limited per session (``MAX_ATTEMPTS``) and, with ``request``,
    per client IP (``RATE_LIMITS["verify_per_ip"]``).

    Local rules come first (bound, open, not expired, attempts left); the
    attempt is reserved with one conditional UPDATE before kod.mobi is
    called, so parallel guesses cannot exceed ``KODMOBI["MAX_ATTEMPTS"]``.
    A right code is redeemed at once with the secret key, and accepted only
    if kod.mobi names this session's own destination.

    :raises VerificationError: ``not_found``, ``invalid_code`` (with
        ``attempts_left``), ``expired``, ``locked``, ``already_used``,
        ``destination_mismatch``, ``challenge_failed`` or
        ``kodmobi_unavailable``.
    """
    if request is not None:
        limits.check_rate("verify_per_ip", client_ip(request))
    session = get_flow_session(session_id, flow_token)
    _require_open(session)
    cleaned = normalize_code(code)
    maximum = settings.MAX_ATTEMPTS
    reserved = OTPSession.objects.filter(
        pk=session.pk,
        status__in=OPEN_STATUSES,
        attempts__lt=maximum,
        expires_at__gt=timezone.now(),
    ).update(attempts=F("attempts") + 1, updated_at=timezone.now())
    if not reserved:
        session.refresh_from_db()
        if session.attempts >= maximum:
            _lock(session)
        _require_open(session)
        # Open, yet not reservable: it expired between the two reads.
        raise VerificationError(Failure.EXPIRED)
    session.attempts += 1

    try:
        result = get_client().check_code(
            session.kodmobi_session_id,
            cleaned,
            language=kodmobi_language(),
            challenge_token=challenge_token,
        )
    except (KodMobiWrongCodeError, KodMobiBlockedError) as exc:
        raise _reject(session, exc, request) from exc
    except KodMobiError as exc:
        raise _record(session, exc, EventKind.FAILED) from exc

    try:
        verification = get_client().verify_token(
            result.verify_token, language=kodmobi_language()
        )
    except KodMobiError as exc:
        # The code was right, but nobody may log in on an unconfirmed reply.
        raise _fail(session, exc, EventKind.FAILED) from exc
    try:
        confirmed = users.normalize_identifier(verification.destination).value
    except VerificationError:
        confirmed = ""
    if not constant_time_compare(confirmed, session.identifier):
        _update(session, status=Status.FAILED, last_error="destination_mismatch")
        _event(session, EventKind.FAILED, detail="destination_mismatch")
        logger.warning(
            "kod.mobi verified another destination for session %s", session.pk
        )
        raise VerificationError(Failure.DESTINATION_MISMATCH)
    return _mark_verified(session)


def _mark_verified(session: OTPSession) -> OTPSession:
    now = timezone.now()
    if not OTPSession.objects.filter(pk=session.pk, status__in=OPEN_STATUSES).update(
        status=Status.VERIFIED, verified_at=now, last_error="", updated_at=now
    ):
        raise VerificationError(Failure.ALREADY_USED)
    session.status, session.verified_at, session.last_error = Status.VERIFIED, now, ""
    _event(session, EventKind.VERIFIED, session.channel)
    signals.session_verified.send(sender=OTPSession, session=session)
    return session


def _reject(
    session: OTPSession,
    exc: KodMobiWrongCodeError | KodMobiBlockedError,
    request: HttpRequest | None,
) -> VerificationError:
    """Record a wrong code. kod.mobi answers the last one it takes with a block."""
    OTPSession.objects.filter(pk=session.pk).update(
        failed_attempts=F("failed_attempts") + 1, last_error=_error_code(exc)
    )
    session.refresh_from_db(fields=["failed_attempts", "attempts", "last_error"])
    left = (
        0
        if isinstance(exc, KodMobiBlockedError)
        else max(0, settings.MAX_ATTEMPTS - session.attempts)
    )
    _event(
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
        _lock(session)
        return VerificationError(Failure.LOCKED)
    return VerificationError(Failure.INVALID_CODE, attempts_left=left)


def _lock(session: OTPSession) -> None:
    if OTPSession.objects.filter(pk=session.pk, status__in=OPEN_STATUSES).update(
        status=Status.LOCKED, updated_at=timezone.now()
    ):
        session.status = Status.LOCKED
        _event(session, EventKind.LOCKED, detail=f"{session.attempts} attempts")
        signals.session_locked.send(sender=OTPSession, session=session)


def _record(
    session: OTPSession, exc: KodMobiError, kind: EventKind, channel: str = ""
) -> VerificationError:
    """Record a refused or failed call on a session that may live on."""
    failure = _failure_for(exc)
    _update(session, last_error=_error_code(exc))
    _event(session, kind, channel, _error_code(exc))
    if failure.reason is Failure.LOCKED:
        _lock(session)
    elif failure.reason is Failure.EXPIRED:
        _expire(session)
    return failure


# -- complete (browser SDK flow) --------------------------------------------------


@sensitive_variables("verify_token")
def complete_with_token(
    verify_token: str,
    *,
    purpose: Purpose = Purpose.LOGIN,
    client: ClientInfo | None = None,
) -> Flow:
    """Redeem a verify token a browser got from kod.mobi directly.

    This is the client+server flow: the browser ran create/send/check with
    the public key; the server confirms with the secret key and learns whose
    phone or email it was. The token is single-use at kod.mobi, so holding
    it is what binds the flow. Returns a ``verified`` flow ready to log in.

    :raises VerificationError: ``expired``, ``invalid_identifier`` or
        ``kodmobi_unavailable``.
    """
    if not isinstance(verify_token, str) or not 0 < len(verify_token) <= 512:
        raise VerificationError(Failure.EXPIRED)
    try:
        verification = get_client().verify_token(
            verify_token, language=kodmobi_language()
        )
    except KodMobiError as exc:
        raise _failure_for(exc) from exc
    identifier = users.normalize_identifier(verification.destination)
    client = client or ClientInfo()
    token = secrets.token_urlsafe(32)
    session = OTPSession.objects.create(
        kodmobi_session_id=verification.session_id[:32],
        identifier=identifier.value,
        identifier_kind=identifier.kind,
        purpose=purpose,
        status=Status.SENT,
        channel=verification.sent_to if verification.sent_to != "none" else "",
        flow_token_hash=_hash_token(token),
        expires_at=timezone.now() + timedelta(minutes=3),
        client_ip=client.ip,
        user_agent=client.user_agent[:255],
    )
    _event(session, EventKind.CREATED, session.channel, "browser verify token")
    signals.session_created.send(sender=OTPSession, session=session)
    return Flow(session=_mark_verified(session), token=token)


# -- log in ---------------------------------------------------------------------


@sensitive_variables("flow_token")
def redeem_for_login(
    session_id: str, flow_token: str, request: HttpRequest | None = None
) -> AbstractBaseUser:
    """Consume a verified session and return its user (the backend's work).

    Exactly one caller can consume a session. The user is found by the
    verified identifier, or created when the signup policy allows it.

    :raises VerificationError: ``not_found``, ``already_used``, ``expired``
        or ``login_not_allowed``.
    """
    session = get_flow_session(session_id, flow_token)
    if session.status == Status.CONSUMED:
        raise VerificationError(Failure.ALREADY_USED)
    if session.status != Status.VERIFIED:
        raise VerificationError(Failure.EXPIRED)
    identifier = users.Identifier(
        session.identifier, IdentifierKind(session.identifier_kind)
    )
    user = users.find_user(identifier)
    signup = user is None and users.signup_allowed(identifier)
    if not signup and (user is None or not users.can_log_in(user)):
        # Unknown account, inactive, or staff: one answer for all of them.
        _update(session, last_error="login_not_allowed")
        _event(session, EventKind.LOGIN_REFUSED)
        raise VerificationError(Failure.LOGIN_NOT_ALLOWED)
    with transaction.atomic():
        if not _consume(session):
            raise VerificationError(Failure.ALREADY_USED)
        if signup:
            user = users.create_user(identifier)
            if user is None:
                raise VerificationError(Failure.LOGIN_NOT_ALLOWED)
        OTPSession.objects.filter(pk=session.pk).update(user=user)
    assert user is not None
    session.user = user  # type: ignore[assignment]
    if signup:
        _event(session, EventKind.SIGNED_UP)
        signals.user_signed_up.send(
            sender=OTPSession, user=user, session=session, request=request
        )
    _event(session, EventKind.LOGGED_IN)
    return user


def _consume(session: OTPSession) -> bool:
    now = timezone.now()
    consumed = OTPSession.objects.filter(
        pk=session.pk, status=Status.VERIFIED, consumed_at__isnull=True
    ).update(status=Status.CONSUMED, consumed_at=now, updated_at=now)
    if consumed:
        session.status, session.consumed_at = Status.CONSUMED, now
    return bool(consumed)


@sensitive_variables("flow_token")
def authenticate_flow(
    request: HttpRequest | None, session_id: str, flow_token: str
) -> AbstractBaseUser:
    """Authenticate a verified flow through Django's backends, consuming it.

    For token-based logins (REST API with DRF tokens or JWT); pages use
    :func:`log_in`.

    :raises VerificationError: ``login_not_allowed`` (whatever the cause, so
        nothing is revealed about accounts).
    """
    user = auth.authenticate(
        request, kodmobi_session_id=session_id, kodmobi_flow_token=flow_token
    )
    if user is None:
        raise VerificationError(Failure.LOGIN_NOT_ALLOWED)
    return user


@sensitive_variables("flow_token")
def log_in(request: HttpRequest, session_id: str, flow_token: str) -> AbstractBaseUser:
    """Authenticate through :class:`~django_kodmobi.backends.KodMobiBackend`
    and log the user in with :func:`django.contrib.auth.login` (new session
    key, new CSRF token).

    :raises VerificationError: ``login_not_allowed`` (whatever the cause, so
        nothing is revealed about accounts).
    """
    user = authenticate_flow(request, session_id, flow_token)
    auth.login(request, user)  # type: ignore[arg-type]
    return user


# -- failures ------------------------------------------------------------------


def _error_code(exc: KodMobiError) -> str:
    if isinstance(exc, KodMobiAPIError) and exc.sys_message:
        return exc.sys_message[:64]
    return type(exc).__name__[:64]


def _failure_for(exc: KodMobiError) -> VerificationError:
    """The user outcome for a kod.mobi error."""
    if isinstance(exc, KodMobiRateLimitError):
        return VerificationError(Failure.RESEND_TOO_SOON, retry_after=exc.retry_after)
    if isinstance(exc, KodMobiChannelError):
        return VerificationError(Failure.CHANNEL_UNAVAILABLE)
    if isinstance(exc, KodMobiChallengeError):
        return VerificationError(Failure.CHALLENGE_FAILED)
    if isinstance(exc, KodMobiBadRequestError):
        return VerificationError(Failure.INVALID_IDENTIFIER)
    if isinstance(exc, KodMobiBlockedError):
        return VerificationError(Failure.LOCKED)
    if isinstance(exc, KodMobiSessionExpiredError):
        return VerificationError(Failure.EXPIRED)
    _log_provider_failure(exc)
    return VerificationError(Failure.UNAVAILABLE)


def _log_provider_failure(exc: KodMobiError) -> None:
    if isinstance(exc, KodMobiAuthenticationError):
        # Our keys are wrong: the integrator must act, the user cannot.
        logger.error("kod.mobi refused our API key; check KODMOBI keys: %s", exc)


def _fail(
    session: OTPSession, exc: KodMobiError, kind: EventKind, channel: str = ""
) -> VerificationError:
    """Record a failed kod.mobi call on the row, return the user outcome."""
    failure = _failure_for(exc)
    status = Status.LOCKED if failure.reason is Failure.LOCKED else Status.FAILED
    _update(session, status=status, last_error=_error_code(exc))
    _event(session, kind, channel, _error_code(exc))
    return failure


def expire_stale(now: datetime | None = None) -> int:
    """Mark open sessions past their expiry as expired; return how many."""
    return OTPSession.objects.stale(now).update(
        status=Status.EXPIRED, updated_at=timezone.now()
    )
