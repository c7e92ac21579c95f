"""Turning a verified flow into a login, exactly once."""

from __future__ import annotations

from typing import NoReturn

from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.views.decorators.debug import sensitive_variables

from django_kodmobi import signals, statements, users
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import (
    EventKind,
    IdentifierKind,
    OTPSession,
    Purpose,
    Status,
)

from .contacts import remember_contact
from .flows import (
    expire,
    get_flow_session,
    hash_token,
    new_event,
    record_event,
    update,
)
from .recording import held_verification, save_verification, verification_written
from .step_up import mark_stepped_up
from .verify import finish_verification, flow_to_check, redeem_code

__all__ = [
    "authenticate_flow",
    "log_in",
    "logged_in_flow",
    "redeem_for_login",
    "verify_and_log_in",
]


@sensitive_variables("flow_token")
def redeem_for_login(
    session_id: str, flow_token: str, request: HttpRequest | None = None
) -> AbstractBaseUser:
    """Consume a verified session and return its user (the backend's work).

    Exactly one caller can consume a session, and only before it expires.
    The user is found by the verified identifier, or created when the signup
    policy allows it.

    :raises VerificationError: ``not_found``, ``already_used``, ``expired``
        or ``login_not_allowed``.
    """
    session = _flow_to_redeem(request, session_id, flow_token)
    if session.purpose not in (Purpose.LOGIN, Purpose.SIGNUP):
        # A code for a contact or a step-up proves a phone, not a login.
        raise VerificationError(Failure.NOT_FOUND)
    if session.status == Status.CONSUMED:
        raise VerificationError(Failure.ALREADY_USED)
    if session.status != Status.VERIFIED:
        raise VerificationError(Failure.EXPIRED)
    if session.is_expired():
        save_verification(session)
        expire(session)
        raise VerificationError(Failure.EXPIRED)
    identifier = users.Identifier(
        session.identifier, IdentifierKind(session.identifier_kind)
    )
    account = users.flow_account(session)
    user = account.user
    signup = user is None and not account.removed and users.signup_allowed(identifier)
    if not signup and (user is None or not users.can_log_in(user)):
        # Unknown account, a removed contact, inactive, or staff: one answer
        # for all of them; the audit keeps which.
        _refuse(session, "contact_removed" if account.removed else _refusal(user))
    # A verification held for this login is written with it; when the login
    # does not happen, the caller's commit writes it on its own.
    held = held_verification(session)
    verifying = held is not None
    # The login and its audit, one commit. Only a signup can be refused
    # halfway (its user not created): it alone needs a savepoint to roll
    # back to inside a caller's commit, and the only exception raised in
    # here; a lost race is raised after the block.
    events = [held] if held else []
    with transaction.atomic(savepoint=signup):
        if signup:
            user = _consume_and_sign_up(session, identifier, verifying)
            events.append(new_event(session, EventKind.SIGNED_UP))
            record_event(session, EventKind.LOGGED_IN, earlier=events)
            consumed = True
        else:
            # The events go in with the consume (one statement on PostgreSQL).
            events.append(new_event(session, EventKind.LOGGED_IN))
            consumed = OTPSession.objects.consume(
                session,
                user,
                verifying=verifying,
                contact=account.contact,
                events=events,
            )
        if consumed:
            assert user is not None
            session.user = user  # type: ignore[assignment]
            if not account.by_contact:
                remember_contact(user, identifier)
    if not consumed:
        contact = account.contact
        using = OTPSession.objects.db
        if contact is not None and not statements.contact_holds(using, contact):
            # Removed (or moved) while kod.mobi checked the code.
            _refuse(session, "contact_removed")
        raise VerificationError(Failure.ALREADY_USED)
    assert user is not None
    if verifying:
        verification_written(session)
    if signup:
        signals.user_signed_up.send(
            sender=OTPSession, user=user, session=session, request=request
        )
    return user


#: The request attribute holding the flow :func:`verify_and_log_in` has just
#: verified, so that the backend need not load it again.
_VERIFIED_FLOW = "_kodmobi_verified_flow"


def logged_in_flow(request: HttpRequest) -> OTPSession:
    """The flow :func:`verify_and_log_in` has just logged ``request`` in by."""
    flow = getattr(request, _VERIFIED_FLOW, None)
    if not isinstance(flow, OTPSession):
        raise LookupError("no login by code in this request")
    return flow


@sensitive_variables("flow_token")
def _flow_to_redeem(
    request: HttpRequest | None, session_id: str, flow_token: str
) -> OTPSession:
    """The flow ``flow_token`` binds: the one this request has just verified
    if it is that flow, else loaded. The consume UPDATE re-checks its state."""
    verified = getattr(request, _VERIFIED_FLOW, None)
    if (
        isinstance(verified, OTPSession)
        and verified.pk == session_id
        and constant_time_compare(verified.flow_token_hash, hash_token(flow_token))
    ):
        return verified
    return get_flow_session(session_id, flow_token)


def _consume_and_sign_up(
    session: OTPSession, identifier: users.Identifier, verifying: bool
) -> AbstractBaseUser:
    """Consume ``session`` and create its user (in the caller's transaction:
    both or neither)."""
    if not OTPSession.objects.consume(session, verifying=verifying):
        raise VerificationError(Failure.ALREADY_USED)
    try:
        with transaction.atomic():
            user = users.create_user(identifier)
    except IntegrityError as exc:
        # The user fields hold this phone or email already (an account the
        # lookup did not name): no second account for it.
        raise VerificationError(Failure.LOGIN_NOT_ALLOWED) from exc  # rolled back
    if user is None:
        raise VerificationError(Failure.LOGIN_NOT_ALLOWED)  # rolled back
    OTPSession.objects.filter(pk=session.pk).update(user=user)
    return user


def _refuse(session: OTPSession, reason: str) -> NoReturn:
    """Refuse the login, recording ``reason`` (the flow stays verified)."""
    save_verification(session)
    update(session, last_error=reason)
    record_event(session, EventKind.LOGIN_REFUSED, detail=reason)
    raise VerificationError(Failure.LOGIN_NOT_ALLOWED)


def _refusal(user: AbstractBaseUser | None) -> str:
    """Why ``user`` may not log in by code, in the audit's vocabulary."""
    if user is None:
        return "no_account"
    if not getattr(user, "is_active", True):
        return "inactive"
    return "staff_excluded"


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
    mark_stepped_up(request)  # the code just confirmed is a step-up too
    return user


@sensitive_variables("flow_token", "code")
def verify_and_log_in(
    request: HttpRequest,
    session_id: str,
    flow_token: str,
    code: str,
    *,
    challenge_token: str | None = None,
    session_login: bool = True,
) -> AbstractBaseUser:
    """Check ``code``, then log in: with a Django session (``session_login``)
    or only authenticate, for a caller that issues tokens itself.

    Once kod.mobi has confirmed the code, the flow's verification and the
    login it leads to (or the refusal, which leaves the flow verified) are
    one commit.

    :raises VerificationError: as :func:`verify_code` and :func:`log_in`.
    """
    session = flow_to_check(session_id, flow_token, request)
    had_streak = redeem_code(
        session, code, challenge_token=challenge_token, request=request
    )
    refusal: VerificationError | None = None
    with transaction.atomic():
        finish_verification(session, had_streak, login_follows=True)
        # The backend takes this flow as it is rather than load it again.
        setattr(request, _VERIFIED_FLOW, session)
        try:
            if session_login:
                user = log_in(request, session_id, flow_token)
            else:
                user = authenticate_flow(request, session_id, flow_token)
        except VerificationError as exc:
            refusal = exc  # its record commits with the verification
        save_verification(session)  # when no login wrote it
    if refusal is not None:
        raise refusal
    return user
