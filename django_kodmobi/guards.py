"""Guards that depend on who the code is for: destination policy and failure
streaks.

Rate limits (``limits``) count requests; these look at the identifier
itself. A phone number that can't belong to a person's mobile (premium
rate, toll free, ...) never gets a code; SMS and WhatsApp go only to the
regions a project serves; and wrong codes in a row for one identifier pause
and finally stop code logins for it (NIST SP 800-63B §5.2.2).

Streaks are counted twice: per identifier from one IP, which pauses a
guesser after each tier of ``FAILURE_COOLDOWNS`` without pausing anybody
else, and per identifier from anywhere, which stops code logins at
``MAX_FAILURES`` however many addresses the guesses came from. The right
code clears both: whoever typed it holds the phone or the inbox. Keys are keyed hashes of the values.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from django.db import IntegrityError, transaction
from django.db.models import F

from . import clock
from .conf import settings
from .exceptions import Failure, VerificationError
from .limits import address_key, digest
from .models import FailureStreak, IdentifierKind, OTPSession

__all__ = [
    "canonical_for_limits",
    "check_destination",
    "check_flow_streak",
    "check_streak",
    "clear_streak",
    "fits",
    "record_failure",
    "streak_key",
]

#: Channels that cost money per message and so attract SMS pumping.
PAID_CHANNELS = frozenset({"sms", "whatsapp"})
EMAIL_CHANNEL = "email"
#: The messenger a phone outside SMS_COUNTRIES is offered instead.
MESSENGER = "telegram"
_GMAIL = frozenset({"gmail.com", "googlemail.com"})


def canonical_for_limits(value: str, kind: IdentifierKind) -> str:
    """The form under which limits count an identifier (never for delivery).

    ``a.n.na+x@gmail.com`` and ``anna@googlemail.com`` reach one inbox, so
    they share one count: the ``+tag`` is dropped everywhere (it is a
    sub-address at every large provider), and Gmail's dots too.
    """
    if kind is not IdentifierKind.EMAIL:
        return value
    local, _at, domain = value.rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in _GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def fits(kind: IdentifierKind | str, channel: str) -> bool:
    """Whether ``channel`` can reach an identifier of ``kind``: email only an
    address, every other channel (messengers, SMS, types kod.mobi adds
    later) only a phone."""
    return (channel == EMAIL_CHANNEL) == (kind == IdentifierKind.EMAIL)


def check_destination(
    value: str, kind: IdentifierKind, channel: str | None
) -> str | None:
    """Refuse destinations that never get a code; return the channel to use.

    :raises VerificationError: ``invalid_identifier`` for a blocked number
        type, ``channel_unavailable`` for a channel that cannot reach this
        kind of identifier, or for SMS or WhatsApp outside ``SMS_COUNTRIES``.
    """
    if channel is not None and not fits(kind, channel):
        raise VerificationError(Failure.CHANNEL_UNAVAILABLE)
    if kind is not IdentifierKind.PHONE:
        return channel
    number = phonenumbers.parse(value)
    blocked = settings.BLOCKED_NUMBER_TYPES
    if blocked:
        kind_name = _number_type_name(phonenumbers.number_type(number))
        if kind_name in blocked:
            raise VerificationError(Failure.INVALID_IDENTIFIER)
    countries = settings.SMS_COUNTRIES
    if countries is None or phonenumbers.region_code_for_number(number) in countries:
        return channel
    if channel in PAID_CHANNELS:
        raise VerificationError(Failure.CHANNEL_UNAVAILABLE)
    # Left to itself kod.mobi may pick SMS: name the messenger instead.
    return channel or MESSENGER


def _number_type_name(value: int) -> str:
    for name in dir(phonenumbers.PhoneNumberType):
        if (
            not name.startswith("_")
            and getattr(phonenumbers.PhoneNumberType, name) == value
        ):
            return name
    return ""


# -- failure streaks -------------------------------------------------------------


def streak_key(identifier: str) -> str:
    """The key of ``identifier``'s own streak (the hard cap's)."""
    return digest(f"id:{identifier}")


def _client_streak_key(identifier: str, ip: str | None, device: str) -> str:
    """The key of ``identifier``'s streak from one client: its trusted
    ``device``, else its address (an IPv6 network counts as one)."""
    if device:
        return digest(f"id-device:{identifier}|{device}")
    return digest(f"id-ip:{identifier}|{address_key(ip) or '-'}")


def check_streak(identifier: str, ip: str | None, device: str = "") -> bool:
    """Refuse while ``identifier`` is paused for this client, or locked for
    every client it does not trust; return whether it has a streak at all
    (so a right code can clear it).

    ``device`` is the key of a device the identifier trusts
    (:mod:`~django_kodmobi.devices`): such a client is judged by its own
    streak only, so strangers' wrong codes never lock the owner out of a
    browser they logged in from before.

    :raises VerificationError: ``too_many_failures`` with ``retry_after``.
    """
    own = streak_key(identifier)
    from_client = _client_streak_key(identifier, ip, device)
    now = clock.now()
    streaks = {s.pk: s for s in FailureStreak.objects.filter(pk__in=(own, from_client))}
    waits = []
    if not device and own in streaks:
        waits.append(_lock_left(streaks[own], now))
    if from_client in streaks:
        paused_until = streaks[from_client].blocked_until
        if paused_until is not None and paused_until > now:
            waits.append((paused_until - now).total_seconds())
    wait = max(waits, default=0)
    if wait > 0:
        raise VerificationError(
            Failure.TOO_MANY_FAILURES, retry_after=max(1, math.ceil(wait))
        )
    return own in streaks


def streak_refusal(
    connection: Any, identifier: str, ip: str | None, device: str = ""
) -> tuple[str, list[Any]]:
    """:func:`check_streak`'s refusal as an SQL condition, true while it
    would refuse: for a statement that must do nothing then (a start's
    INSERT), so that the check and the write are one. Its answer is then
    :func:`check_streak`'s to give, with the wait."""
    now = clock.now()
    adapt = connection.ops.adapt_datetimefield_value
    quote = connection.ops.quote_name
    key = quote("key")
    paused = f"({key} = %s AND blocked_until > %s)"
    params = [_client_streak_key(identifier, ip, device), adapt(now)]
    if not device:  # locked for every client the identifier does not trust
        paused += f" OR ({key} = %s AND failures >= %s AND updated_at > %s)"
        lock = timedelta(seconds=settings.FAILURE_LOCK_SECONDS)
        params += [streak_key(identifier), settings.MAX_FAILURES, adapt(now - lock)]
    table = quote(FailureStreak._meta.db_table)
    # Names from _meta and quote_name; every value is a parameter.
    return f"EXISTS (SELECT 1 FROM {table} WHERE {paused})", params  # noqa: S608


def _lock_left(streak: FailureStreak, now: datetime) -> float:
    """Seconds left of the lock at ``MAX_FAILURES`` on an identifier's own
    streak (0 when there is none): it lasts ``FAILURE_LOCK_SECONDS`` from
    the last wrong code, and then ends by itself."""
    if streak.failures < settings.MAX_FAILURES:
        return 0
    ends = streak.updated_at + timedelta(seconds=settings.FAILURE_LOCK_SECONDS)
    return max(0.0, (ends - now).total_seconds())


def check_flow_streak(session: OTPSession, ip: str | None) -> bool:
    """:func:`check_streak` for a flow's identifier and device, without a
    query when the flow was loaded knowing that no streak exists for it
    (``OTPSession.objects.with_streak_hint()``)."""
    if session.streak_key and getattr(session, "streak_free", False):
        return False
    return check_streak(session.identifier, ip, session.device_key)


def record_failure(identifier: str, ip: str | None, device: str = "") -> None:
    """Count a wrong code on the streak of the client that made it, and on
    the identifier's own streak unless it came from a trusted ``device``;
    pause the client's streak when it reaches a tier."""
    own = streak_key(identifier)
    from_client = _client_streak_key(identifier, ip, device)
    now = clock.now()
    if not device:
        # A lock that has ended starts the count again.
        FailureStreak.objects.filter(
            pk=own,
            failures__gte=settings.MAX_FAILURES,
            updated_at__lte=now - timedelta(seconds=settings.FAILURE_LOCK_SECONDS),
        ).update(failures=0)
        _increment(own, own, now)
    failures = _increment(from_client, own, now)
    pause = dict(settings.FAILURE_COOLDOWNS).get(failures)
    if pause:
        FailureStreak.objects.filter(pk=from_client).update(
            blocked_until=now + timedelta(seconds=pause)
        )


def clear_streak(identifier: str) -> None:
    """A right code: every streak of ``identifier`` starts again."""
    FailureStreak.objects.filter(identifier_key=streak_key(identifier)).delete()


def _increment(key: str, identifier_key: str, now: datetime) -> int:
    """Add one failure to streak ``key``, creating it; return the new count."""
    streaks = FailureStreak.objects.filter(pk=key)
    if not streaks.update(failures=F("failures") + 1, updated_at=now):
        try:
            with transaction.atomic():
                FailureStreak.objects.create(
                    key=key, identifier_key=identifier_key, failures=1, updated_at=now
                )
            return 1
        except IntegrityError:  # a concurrent first failure made it
            streaks.update(failures=F("failures") + 1, updated_at=now)
    return int(streaks.values_list("failures", flat=True).get())
