"""What happened to a flow: its row, its audit event and its signal, together.

Status changes that race (lock, verify) go through the conditional UPDATEs
of :class:`~django_kodmobi.models.OTPSessionQuerySet`; the event and the
signal follow only for the caller whose UPDATE changed the row.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from django_kodmobi import signals
from django_kodmobi.client import KodMobiError
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import EventKind, OTPEvent, OTPSession, Status

from .flows import expire, record_event, update
from .upstream import error_code, failure_for

__all__ = ["fail", "lock", "mark_verified", "record"]


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


def lock(session: OTPSession) -> None:
    """Lock every open flow on ``session``'s kod.mobi session (one code)."""
    locked = OTPSession.objects.lock(session)
    if not locked:
        return
    OTPEvent.objects.bulk_create(
        OTPEvent(session_id=pk, kind=EventKind.LOCKED, detail="attempts spent")
        for pk in locked
    )
    if session.pk in locked:
        session.status = Status.LOCKED
        signals.session_locked.send(sender=OTPSession, session=session)


def mark_verified(session: OTPSession) -> OTPSession:
    """Open → verified for exactly one caller; the others get ``already_used``."""
    with transaction.atomic():  # the status and its event, one commit
        verified = OTPSession.objects.mark_verified(session)
        if verified:
            record_event(session, EventKind.VERIFIED, session.channel)
    if not verified:
        raise VerificationError(Failure.ALREADY_USED)
    signals.session_verified.send(sender=OTPSession, session=session)
    return session
