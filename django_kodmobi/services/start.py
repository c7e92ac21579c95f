"""Starting a flow and sending its code again.

A row is written before kod.mobi is called, so a failure upstream leaves a
``failed`` row with its reason instead of nothing. Limits come first: a
flood costs neither a row nor a message.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connections, router, transaction
from django.views.decorators.debug import sensitive_variables

from django_kodmobi import clock, guards, limits, signals, statements, users
from django_kodmobi.client import (
    Channel,
    KodMobiAPIError,
    KodMobiBlockedError,
    KodMobiError,
    Session,
    SessionChannel,
)
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import (
    EventKind,
    IdentifierKind,
    KodSession,
    OTPEvent,
    OTPSession,
    Purpose,
    Status,
)
from django_kodmobi.provider import kodmobi_language
from django_kodmobi.silent import AUDIT_NOTE as UNKNOWN_NOTE
from django_kodmobi.silent import silent_if_unknown
from django_kodmobi.test_numbers import AUDIT_NOTE, fixed_code

from . import upstream
from .channels import channel_waits, in_our_words, remember_session_channels
from .context import ClientInfo, challenge
from .flows import (
    Flow,
    get_flow_session,
    hash_token,
    new_event,
    new_token,
    record_event,
    require_open,
    update,
)
from .recording import fail, finished_on_error, record

__all__ = ["resend_code", "start_login"]

_CHANNEL_TYPES = frozenset(channel.value for channel in Channel)


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

    :raises VerificationError: ``invalid_identifier``, ``rate_limited`` or
        ``too_many_failures`` (no row is written), ``channel_unavailable``,
        ``resend_too_soon``, ``challenge_failed``, ``locked`` or
        ``kodmobi_unavailable`` (the row then records why).
    """
    normalized = users.normalize_identifier(identifier)
    if purpose == Purpose.LOGIN and not users.can_ever_log_in(normalized.kind):
        # A misconfiguration (system check kodmobi.E009), not a secret about
        # one account: refuse before anybody spends a code on it.
        raise VerificationError(Failure.INVALID_IDENTIFIER)
    challenge_token = challenge(challenge_token)
    client = client or ClientInfo()
    channel = guards.check_destination(
        normalized.value, normalized.kind, _channel(channel)
    )
    counted = guards.canonical_for_limits(normalized.value, normalized.kind)
    device = client.device_key(normalized.value)
    # A client with no address (a server-side flow) counts as its device.
    where = client.address_key or (f"device:{device}" if device else None)
    uses: list[tuple[str, str | None]] = [
        ("start_per_ip", where),
        # Per identifier *from one address*: nobody can use up somebody
        # else's allowance from their own.
        ("start_per_identifier", f"{counted}|{where or '-'}"),
        # A start that sends nothing counts as a send all the same: the
        # code it lets the browser SDK send, or the first resend, is one.
        *_send_uses(counted, device),
    ]
    receipt = limits.check_rates(uses)

    token = new_token()
    # The row goes in before kod.mobi is called, so that a fault there is
    # recorded on it; its "created" event waits to share one INSERT with
    # the outcome of that call.
    session = OTPSession(
        identifier=normalized.value,
        identifier_kind=normalized.kind,
        purpose=purpose,
        flow_token_hash=hash_token(token),
        streak_key=guards.streak_key(normalized.value),
        expires_at=clock.now() + timedelta(seconds=settings.SESSION_TTL),
        client_ip=client.ip,
        user_agent=client.user_agent[:255],
        device_key=device,
    )
    # Nobody's phone or email, and no signup: nothing is sent (see silent).
    # The INSERT asks whether a verified contact holds it; if none does,
    # the user fields (or USER_RESOLVER) are asked before kod.mobi is.
    maybe_silent = purpose == Purpose.LOGIN and silent_if_unknown(normalized)
    unless_held_by = normalized.value if maybe_silent else ""
    # ...and it is made only if no failure streak pauses this client: the
    # check and the row, one statement. When paused, check_streak says for
    # how long; had the pause just ended (it raises nothing), it is tried
    # again.
    using = router.db_for_write(OTPSession)
    for _ in range(2):
        paused = guards.streak_refusal(
            connections[using], normalized.value, client.ip, device
        )
        if statements.insert_flow(
            using, session, unless_held_by=unless_held_by, unless=paused
        ):
            break
        guards.check_streak(normalized.value, client.ip, device)
    else:  # pragma: no cover - paused, yet not by check_streak's reckoning
        raise VerificationError(Failure.TOO_MANY_FAILURES, retry_after=1)
    if session.silent and users.account_by_user_fields(normalized).user:
        update(session, silent=False)
    silent = session.silent
    # A test number's or an unknown's flow says so in the audit: nothing
    # was sent for it.
    note = AUDIT_NOTE if fixed_code(normalized.value) is not None else ""
    if silent:
        note = UNKNOWN_NOTE
    created = new_event(session, EventKind.CREATED, channel or "", note)
    with finished_on_error(session, earlier=(created,)):
        signals.session_created.send(sender=OTPSession, session=session)
        try:
            reply = upstream.call(
                lambda kodmobi: kodmobi.create_session(
                    normalized.value,
                    channel=channel,
                    send=send,
                    language=kodmobi_language(),
                    challenge_token=challenge_token,
                ),
                flow=session,
            )
        except KodMobiError as exc:
            raise fail(session, exc, EventKind.FAILED, earlier=(created,)) from exc
        _record_reply(session, reply, send, created)  # one commit
    if send and not reply.sent_to:
        # It joined a code sent earlier: no message went out for it.
        limits.refund(receipt, SEND_LIMITS)
    # The code page comes next and shows these: it need not ask again.
    remember_session_channels(reply.session_id, reply.channels)
    if reply.sent_to:
        signals.code_sent.send(
            sender=OTPSession, session=session, channel=reply.sent_to, resend=False
        )
    return Flow(session=session, token=token, channels=in_our_words(reply.channels))


def _record_reply(
    session: OTPSession, reply: Session, send: bool, created: OTPEvent
) -> None:
    """Write what kod.mobi answered to the flow: its kod.mobi session and
    budget, the channel, the expiry, and the events (``created`` with them).

    kod.mobi hands back the live session of a destination, sending nothing,
    while one is alive (a start by someone else, or by this person a moment
    ago): the flow then shares that code, and so its attempt budget (a
    KodSession row, made by the first flow on it). Such a flow is told
    nothing of the earlier code: its expiry and countdown are those of a
    fresh start, so a stranger cannot learn that, or when, a code was sent.
    """
    if reply.sent_to:  # a new code went out: the common case, one statement
        _record_sent(session, reply, reply.sent_to, created)
    else:
        with transaction.atomic():
            _record_no_send(session, reply, send, created)


def _record_no_send(
    session: OTPSession, reply: Session, send: bool, created: OTPEvent
) -> None:
    """:func:`_record_reply` when kod.mobi sent nothing: the flow joined a
    live code, or was started with ``send=False``."""
    KodSession.objects.bulk_create(
        [KodSession(pk=reply.session_id, channel="", origin=session.pk)],
        ignore_conflicts=True,
    )
    channel_used, origin = (
        KodSession.objects.filter(pk=reply.session_id)
        .values_list("channel", "origin")
        .first()
    ) or ("", "")
    if not send:
        channel_used = ""  # nothing went out for this flow yet
    values: dict[str, Any] = {
        "kodmobi_session_id": reply.session_id,
        "channels_offered": _offered(reply),
        "channel": channel_used,
    }
    if origin != session.pk:  # joined a code another flow had sent
        values["channel_cooldowns"] = cooldowns(session, (), channel_used)
    else:
        values["expires_at"] = clamp_expiry(session, reply.expires_at)
        values["channel_cooldowns"] = cooldowns(session, reply.channels, "")
    if channel_used:
        values["status"] = Status.SENT
        values["sent_at"] = clock.now()
    update(session, **values)
    if channel_used:
        detail = "joined a live code"
        record_event(
            session, EventKind.SENT, session.channel, detail, earlier=(created,)
        )
    else:  # send=False: nothing went out yet
        OTPEvent.objects.bulk_create([created])


def _record_sent(
    session: OTPSession, reply: Session, sent_to: str, created: OTPEvent
) -> None:
    """:func:`_record_reply` when kod.mobi sent a code for this flow: its
    budget (a new KodSession, whose origin the flow is), the flow's row and
    its two events, in one statement where the database allows."""
    now = clock.now()
    values: dict[str, Any] = {
        "kodmobi_session_id": reply.session_id,
        "channels_offered": _offered(reply),
        "channel": sent_to,
        "expires_at": clamp_expiry(session, reply.expires_at),
        "channel_cooldowns": cooldowns(session, reply.channels, sent_to),
        "status": Status.SENT,
        "sent_at": now,
        "updated_at": now,
    }
    using = session._state.db or "default"
    code = KodSession(pk=reply.session_id, channel=sent_to, origin=session.pk)
    sent = new_event(session, EventKind.SENT, sent_to)
    statements.write_together(
        using,
        [
            statements.insert(using, [code], _KOD_FIELDS, ignore_conflicts=True),
            statements.update(using, OTPSession, session.pk, values),
            statements.insert(using, [created, sent], statements.EVENT_FIELDS),
        ],
    )
    for name, value in values.items():
        setattr(session, name, value)


_KOD_FIELDS = [field.name for field in KodSession._meta.concrete_fields]


def _offered(reply: Session) -> list[dict[str, Any]]:
    return [
        {"type": c.type, "name": c.name, "is_active": c.is_active}
        for c in reply.channels
    ]


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
        ``retry_after``), ``rate_limited``, ``channel_unavailable``,
        ``challenge_failed`` or ``kodmobi_unavailable``.
    """
    session = get_flow_session(session_id, flow_token)
    require_open(session)
    challenge_token = challenge(challenge_token)
    kind = IdentifierKind(session.identifier_kind)
    requested = _channel(channel)
    if requested is None:
        raise VerificationError(Failure.CHANNEL_UNAVAILABLE)
    guards.check_destination(session.identifier, kind, requested)
    channel = requested
    wait = channel_waits(session).get(channel, 0)
    if wait > 0:
        raise VerificationError(Failure.RESEND_TOO_SOON, retry_after=wait)
    # A flow started with send=False has sent nothing yet: its first send
    # is not a resend, and its start counted it already.
    resend = bool(session.channel)
    if resend:
        counted = guards.canonical_for_limits(session.identifier, kind)
        limits.check_rates(_send_uses(counted, session.device_key))
    if resend and not OTPSession.objects.reserve_resend(session):
        raise VerificationError(Failure.TOO_MANY_RESENDS)
    try:
        reply = upstream.call(
            lambda kodmobi: kodmobi.send_code(
                session.kodmobi_session_id,
                channel,
                language=kodmobi_language(),
                challenge_token=challenge_token,
            ),
            flow=session,
        )
    except KodMobiError as exc:
        if (
            resend
            and isinstance(exc, KodMobiAPIError)
            and not isinstance(exc, KodMobiBlockedError)
        ):
            # A refusal sent nothing: give the resend back.
            OTPSession.objects.give_back_resend(session)
        raise record(session, exc, EventKind.SEND_FAILED, channel) from exc
    session.refresh_from_db(fields=["resends"])
    sent = reply.channel.type
    update(
        session,
        status=Status.SENT,
        sent_at=clock.now(),
        channel=sent,
        expires_at=clamp_expiry(session, reply.expires_at),
        channel_cooldowns=cooldowns(session, (reply.channel,), sent),
        last_error="",
    )
    if resend:
        record_event(session, EventKind.RESENT, sent, f"resend {session.resends}")
    else:
        record_event(session, EventKind.SENT, sent)
        # Flows that join this code later say where it went.
        KodSession.objects.filter(pk=session.kodmobi_session_id, channel="").update(
            channel=sent
        )
    signals.code_sent.send(
        sender=OTPSession, session=session, channel=sent, resend=resend
    )
    return session


def clamp_expiry(session: OTPSession, upstream_expiry: datetime) -> datetime:
    """kod.mobi's expiry, but never later than this app's own maximum."""
    latest = session.created_at + timedelta(seconds=settings.SESSION_TTL)
    return min(clock.project_time(upstream_expiry), latest)


def cooldowns(
    session: OTPSession, channels: tuple[SessionChannel, ...], sent_to: str
) -> dict[str, float]:
    """The flow's cooldowns after kod.mobi's reply: what it says each channel
    must wait, and at least ``RESEND_COOLDOWN`` for the channel just used."""
    now = clock.epoch()
    result = dict(session.channel_cooldowns or {})
    for channel in channels:
        if channel.timeout > 0:
            result[channel.type] = now + channel.timeout
    if sent_to:
        timeout = next((c.timeout for c in channels if c.type == sent_to), 0)
        result[sent_to] = now + (timeout or settings.RESEND_COOLDOWN)
    return result


def _channel(value: object) -> str | None:
    """A channel type this app knows, ``None`` for none; refuse the rest."""
    if value in (None, ""):
        return None
    if value not in _CHANNEL_TYPES:
        raise VerificationError(Failure.CHANNEL_UNAVAILABLE)
    return str(value)


#: The limits a message counts against (:func:`_send_uses`).
SEND_LIMITS = ("sends_per_identifier", "sends_per_device", "sends_global")


def _send_uses(counted: str, device: str) -> list[tuple[str, str | None]]:
    """The limits one message counts against: the site's, and its
    destination's: shared by every client the destination does not trust,
    or the trusted ``device``'s own, which strangers cannot use up."""
    if device:
        return [("sends_per_device", f"{counted}|{device}"), ("sends_global", "site")]
    return [("sends_per_identifier", counted), ("sends_global", "site")]
