"""A flow and what binds it to its browser or API client.

A flow is an :class:`~django_kodmobi.models.OTPSession` row plus a random
token only its holder knows (the row keeps its SHA-256). Every call that
continues a flow presents both.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils.crypto import constant_time_compare

from django_kodmobi import clock
from django_kodmobi.client import SessionChannel
from django_kodmobi.compiled import CompiledLookup
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import EventKind, OTPEvent, OTPSession, Status

__all__ = [
    "Flow",
    "get_flow_session",
    "hash_token",
    "new_event",
    "new_token",
    "record_event",
    "require_open",
    "update",
]


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


def new_token() -> str:
    """256 random bits: the flow's secret."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _flows_with_streak_hint() -> QuerySet[OTPSession]:
    """Flows, unordered, each knowing whether its identifier has failure
    streaks, and with the account its verified contact names (the login's
    lookup, in the same SELECT)."""
    return (
        OTPSession.objects.with_streak_hint()
        .select_related("verified_contact__user")
        .order_by()
    )


#: The SELECT of every code check, compiled once: building it (the joins,
#: the streak subquery) took the ORM ten times what the database takes to
#: run it (``benchmarks/bench_orm.py``).
_flow_by_id = CompiledLookup(_flows_with_streak_hint)


def get_flow_session(session_id: str, flow_token: str) -> OTPSession:
    """Return the session ``flow_token`` binds, or raise ``not_found``.

    An unknown id and a wrong token look the same from outside, so ids
    cannot be probed.
    """
    if not isinstance(session_id, str) or not isinstance(flow_token, str):
        raise VerificationError(Failure.NOT_FOUND)
    # A ULID is 26 characters: anything else cannot name a flow.
    session = _flow_by_id.get(session_id) if len(session_id) == 26 else None
    expected = session.flow_token_hash if session else hash_token("")
    if not constant_time_compare(expected, hash_token(flow_token)) or session is None:
        raise VerificationError(Failure.NOT_FOUND)
    return session


def require_open(session: OTPSession) -> None:
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
        expire(session)
        raise VerificationError(Failure.EXPIRED)


def expire(session: OTPSession) -> None:
    if OTPSession.objects.expire(session):
        record_event(session, EventKind.EXPIRED)


def new_event(
    session: OTPSession, kind: EventKind, channel: str = "", detail: str = ""
) -> OTPEvent:
    """An event, timed now, not yet written."""
    return OTPEvent(
        session=session, kind=kind, channel=channel[:16], detail=detail[:128]
    )


def record_event(
    session: OTPSession,
    kind: EventKind,
    channel: str = "",
    detail: str = "",
    *,
    earlier: Sequence[OTPEvent] = (),
) -> None:
    """Write an event, after ``earlier`` ones held back for it: one INSERT."""
    OTPEvent.objects.bulk_create([*earlier, new_event(session, kind, channel, detail)])


def update(session: OTPSession, **values: Any) -> None:
    """Write ``values`` to the row and the instance."""
    values["updated_at"] = clock.now()
    OTPSession.objects.filter(pk=session.pk).update(**values)
    for name, value in values.items():
        setattr(session, name, value)
