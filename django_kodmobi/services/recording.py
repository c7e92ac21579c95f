"""What happened to a flow: its row, its audit event and its signal, together.

Status changes that race (lock, verify) go through the conditional UPDATEs
of :class:`~django_kodmobi.models.OTPSessionQuerySet`; the event and the
signal follow only for the caller whose UPDATE changed the row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import transaction

from django_kodmobi import clock, signals
from django_kodmobi.client import KodMobiError
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import EventKind, OTPEvent, OTPSession, Status

from .flows import expire, new_event, record_event, update
from .upstream import error_code, failure_for

logger = logging.getLogger("django_kodmobi.services")

__all__ = [
    "fail",
    "finished_on_error",
    "held_verification",
    "hold_verification",
    "lock",
    "mark_verified",
    "record",
    "save_verification",
    "verification_written",
]


def record(
    session: OTPSession, exc: KodMobiError, kind: EventKind, channel: str = ""
) -> VerificationError:
    """Record a refused or failed call on a flow that may live on."""
    failure = failure_for(exc)
    update(session, last_error=error_code(exc))
    record_event(session, kind, channel, error_code(exc))
    if failure.reason is Failure.LOCKED:
        lock(session)
    elif failure.reason is Failure.EXPIRED:
        expire(session)
    return failure


def fail(
    session: OTPSession,
    exc: KodMobiError,
    kind: EventKind,
    channel: str = "",
    *,
    earlier: Sequence[OTPEvent] = (),
) -> VerificationError:
    """Record a failed kod.mobi call that ends the flow; return the outcome.

    Whatever kod.mobi said (``last_error`` keeps it), the flow *failed*:
    ``locked`` is kept for flows whose codes were spent here. ``earlier``
    events not yet written go in the same INSERT.
    """
    failure = failure_for(exc)
    with transaction.atomic():  # the status and its events, one commit
        update(session, status=Status.FAILED, last_error=error_code(exc))
        record_event(session, kind, channel, error_code(exc), earlier=earlier)
    return failure


@contextmanager
def finished_on_error(
    session: OTPSession, *, earlier: Sequence[OTPEvent] = ()
) -> Iterator[None]:
    """Run the part of a flow's start after its row is written; if it breaks
    on something unforeseen (the database, a receiver), the row still ends
    ``failed`` with the error's name, then the error goes on. ``earlier``
    events not yet written go with it."""
    try:
        yield
    except VerificationError:
        raise  # an outcome, recorded where it was decided
    except Exception as exc:
        try:
            with transaction.atomic():
                update(session, status=Status.FAILED, last_error=_name(exc))
                record_event(
                    session, EventKind.FAILED, detail=_name(exc), earlier=earlier
                )
        except Exception:  # noqa: BLE001 - the database itself is down
            logger.exception("could not record the failure of flow %s", session.pk)
        raise


def _name(exc: BaseException) -> str:
    return type(exc).__name__[:64]


def lock(session: OTPSession, *, this_flow_only: bool = False) -> None:
    """Lock every open flow on ``session``'s kod.mobi session (one code), or
    ``this_flow_only``."""
    locked = OTPSession.objects.lock(session, this_flow_only=this_flow_only)
    if not locked:
        return
    OTPEvent.objects.bulk_create(
        OTPEvent(session_id=pk, kind=EventKind.LOCKED, detail="attempts spent")
        for pk in locked
    )
    if session.pk in locked:
        session.status = Status.LOCKED
        signals.session_locked.send(sender=OTPSession, session=session)


def mark_verified(session: OTPSession, event: OTPEvent | None = None) -> OTPSession:
    """Open → verified for exactly one caller; the others get ``already_used``.

    ``event`` is the verification's event when it was made earlier (by
    :func:`hold_verification`).
    """
    # The status and its event, one commit. Inside a caller's commit, no
    # savepoint: nothing here raises to be caught, and a database error
    # must fail the caller's commit anyway.
    with transaction.atomic(savepoint=False):
        verified = OTPSession.objects.mark_verified(session)
        if verified:
            OTPEvent.objects.bulk_create(
                [event or new_event(session, EventKind.VERIFIED, session.channel)]
            )
    if not verified:
        raise VerificationError(Failure.ALREADY_USED)
    signals.session_verified.send(sender=OTPSession, session=session)
    return session


# -- a verification held for the login that follows it ---------------------------

#: The instance attribute holding the event of a verification not yet written.
_HELD = "_kodmobi_held_verification"


def hold_verification(session: OTPSession) -> None:
    """A code kod.mobi confirmed, with a login to follow in the same commit:
    the flow is verified on this instance only, and the login writes the
    verification with its own UPDATE and INSERT (two statements fewer).

    The commit must end with :func:`save_verification`, which writes the
    verification on its own when no login took it.
    """
    setattr(session, _HELD, new_event(session, EventKind.VERIFIED, session.channel))
    session.status, session.verified_at, session.last_error = (
        Status.VERIFIED,
        clock.now(),
        "",
    )


def held_verification(session: OTPSession) -> OTPEvent | None:
    """The event of ``session``'s held verification, if one is held."""
    event: OTPEvent | None = getattr(session, _HELD, None)
    return event


def verification_written(session: OTPSession) -> None:
    """The login wrote ``session``'s held verification (its UPDATE moved the
    row from open, its INSERT took the event): tell the receivers."""
    delattr(session, _HELD)
    signals.session_verified.send(sender=OTPSession, session=session)


def save_verification(session: OTPSession) -> None:
    """Write ``session``'s held verification on its own, if one is held.

    :raises VerificationError: ``already_used`` when the row is no longer
        open (another caller verified it).
    """
    event = held_verification(session)
    if event is not None:
        delattr(session, _HELD)
        mark_verified(session, event)
