"""The numbers behind the admin charts, a day at a time.

Every figure is a ``GROUP BY`` in the database, never a loop over rows: one
scan of the events and one of the sessions, grouped by day. Python only folds the few hundred groups they return.

A day is *settled* once it ended more than a day ago: no event can land on
it any more and its flows have long expired. Settled days are kept in
Django's cache, so a report reads only today and yesterday from the
database, however many rows the month holds. The first report of a day
reads the whole window once.

The median wait is taken from per-second counts, which add up across days:
exact to the second, which is how the page shows it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, Count, F, Func, IntegerField, Q, Value, When
from django.db.models.functions import TruncDate
from django.utils.timezone import get_current_timezone_name, make_aware

from django_kodmobi import clock
from django_kodmobi.models import (
    EventKind,
    OTPEvent,
    OTPSession,
    PasskeyEvent,
    PasskeyEventKind,
    Purpose,
)

__all__ = ["FAILURE_KINDS", "DaySummary", "FunnelRow", "Report", "report"]

#: Events that mean a flow did not get what it asked for.
FAILURE_KINDS = (
    EventKind.SEND_FAILED,
    EventKind.CODE_REJECTED,
    EventKind.LOGIN_REFUSED,
    EventKind.LOCKED,
    EventKind.EXPIRED,
    EventKind.FAILED,
)
_SENDS = (EventKind.SENT, EventKind.RESENT)
#: Failures whose detail is a reason code (a wrong code's counts attempts).
_REASONED = tuple(kind for kind in FAILURE_KINDS if kind != EventKind.CODE_REJECTED)
_LOGIN_PURPOSES = (Purpose.LOGIN, Purpose.SIGNUP)
_FUNNEL_STEPS = 4  # started, code sent, right code, logged in
#: Bump when DaySummary changes shape, so old cached days are not read.
_CACHE_VERSION = 1


@dataclass
class DaySummary:
    """One day's figures (by the day a flow started or an event happened)."""

    starts: int = 0
    logins: int = 0
    sends: dict[str, int] = field(default_factory=dict)
    #: Failure events per (event kind, reason code).
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Login flows per channel the code went to: started, sent, right code,
    #: logged in.
    funnel: dict[str, list[int]] = field(default_factory=dict)
    #: Login flows per channel and whole seconds from the code to a right one.
    waits: dict[str, dict[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class FunnelRow:
    """Login flows whose code went to ``channel`` ("" for flows that never
    got a code), and how far they came."""

    channel: str
    started: int
    sent: int
    verified: int
    logged_in: int


@dataclass
class Report:
    """The last ``len(days)`` days, oldest first, in the site's time zone."""

    days: list[date]
    starts: dict[date, int] = field(default_factory=dict)
    logins: dict[date, int] = field(default_factory=dict)
    #: Codes sent (first sends and resends) per day and channel.
    sends: dict[date, dict[str, int]] = field(default_factory=dict)
    #: Failure events per (event kind, reason code), most frequent first.
    failures: list[tuple[str, str, int]] = field(default_factory=list)
    funnel: list[FunnelRow] = field(default_factory=list)
    #: Per channel, the median time from the code being sent to a right one
    #: (login flows), to the second.
    time_to_code: dict[str, timedelta] = field(default_factory=dict)

    @property
    def channels(self) -> list[str]:
        """Channels codes went to, busiest first."""
        totals: dict[str, int] = defaultdict(int)
        for per_channel in self.sends.values():
            for channel, count in per_channel.items():
                totals[channel] += count
        return sorted(totals, key=lambda c: (-totals[c], c))


class WaitSeconds(Func):
    """Whole seconds from ``sent_at`` to ``verified_at`` (PostgreSQL and
    SQLite, the databases this app is tested on)."""

    output_field = IntegerField()
    template = "CAST(FLOOR(EXTRACT(EPOCH FROM (%(expressions)s))) AS INTEGER)"
    arg_joiner = " - "

    def __init__(self) -> None:
        super().__init__(F("verified_at"), F("sent_at"))

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # julianday() is a float of days: round away its last bits first.
        return self.as_sql(
            compiler,
            connection,
            template="CAST(ROUND((julianday(%(expressions)s)) * 86400, 3) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )


def report(days: int = 30) -> Report:
    """Flows, sends, logins and failures of the last ``days`` days."""
    today = clock.today()
    window = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    settled = [day for day in window if day < today - timedelta(days=1)]
    keys = {day: _cache_key(day) for day in settled}
    found = cache.get_many(keys.values())
    summaries = {day: found[key] for day, key in keys.items() if key in found}
    missing = [day for day in window if day not in summaries]
    fresh = _summaries(since=missing[0])
    summaries.update({day: fresh.get(day, DaySummary()) for day in missing})
    cache.set_many(
        {keys[day]: summaries[day] for day in missing if day in keys},
        timeout=(days + 1) * 24 * 3600,
    )
    return _fold(window, summaries)


def _cache_key(day: date) -> str:
    zone = get_current_timezone_name()
    return f"kodmobi:stats:v{_CACHE_VERSION}:{zone}:{day.isoformat()}"


def _summaries(since: date) -> dict[date, DaySummary]:
    """Summaries of the days from ``since`` to today that have anything to
    sum."""
    start = clock.start_of(since)
    summaries: dict[date, DaySummary] = defaultdict(DaySummary)

    events = (
        OTPEvent.objects.filter(
            at__gte=start,
            kind__in=(*_SENDS, EventKind.LOGGED_IN, *FAILURE_KINDS),
        )
        .annotate(
            day=TruncDate("at"),
            reason=Case(When(kind__in=_REASONED, then=F("detail")), default=Value("")),
        )
        .values_list("day", "kind", "channel", "reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for day, kind, channel, reason, count in events:
        summary = summaries[day]
        if kind == EventKind.LOGGED_IN:
            summary.logins += count
        elif kind in _SENDS:
            summary.sends[channel] = summary.sends.get(channel, 0) + count
        else:
            key = (kind, reason)
            summary.failures[key] = summary.failures.get(key, 0) + count

    # Grouped by the wait too (NULL for flows without a right code), so
    # one scan gives the funnel and the waits.
    flows = (
        OTPSession.objects.filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at"), seconds=WaitSeconds())
        .values_list("day", "channel", "purpose", "seconds")
        .annotate(
            started=Count("pk"),
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            verified=Count("pk", filter=Q(verified_at__isnull=False)),
            logged_in=Count("pk", filter=Q(consumed_at__isnull=False)),
        )
        .order_by()
    )
    for day, channel, purpose, seconds, *steps in flows:
        summary = summaries[day]
        summary.starts += steps[0]
        if purpose not in _LOGIN_PURPOSES:
            continue
        row = summary.funnel.setdefault(channel, [0] * _FUNNEL_STEPS)
        row[:] = [a + b for a, b in zip(row, steps, strict=True)]
        if seconds is not None and channel:
            per_second = summary.waits.setdefault(channel, {})
            per_second[seconds] = per_second.get(seconds, 0) + steps[0]
    return dict(summaries)


def _fold(window: list[date], summaries: dict[date, DaySummary]) -> Report:
    result = Report(days=window)
    failures: dict[tuple[str, str], int] = defaultdict(int)
    funnel: dict[str, list[int]] = {}
    waits: dict[str, dict[int, int]] = {}
    for day in window:
        summary = summaries[day]
        if summary.starts:
            result.starts[day] = summary.starts
        if summary.logins:
            result.logins[day] = summary.logins
        if summary.sends:
            result.sends[day] = dict(summary.sends)
        for key, count in summary.failures.items():
            failures[key] += count
        for channel, steps in summary.funnel.items():
            row = funnel.setdefault(channel, [0] * _FUNNEL_STEPS)
            row[:] = [a + b for a, b in zip(row, steps, strict=True)]
        for channel, per_second in summary.waits.items():
            merged = waits.setdefault(channel, {})
            for seconds, count in per_second.items():
                merged[seconds] = merged.get(seconds, 0) + count
    result.failures = sorted(
        ((kind, reason, count) for (kind, reason), count in failures.items()),
        key=lambda row: (-row[2], row[0], row[1]),
    )
    result.funnel = sorted(
        (FunnelRow(channel, *steps) for channel, steps in funnel.items()),
        key=lambda row: (-row.started, row.channel),
    )
    result.time_to_code = {
        channel: median(per_second) for channel, per_second in sorted(waits.items())
    }
    return result


def median(counts: dict[int, int]) -> timedelta:
    """The median of values given as {value: how many times}: the middle
    one, or the mean of the middle two."""
    ranked = sorted(counts.items())
    total = sum(counts.values())

    def at(rank: int) -> int:  # the value at a 0-based rank
        seen = 0
        for value, count in ranked:
            seen += count
            if seen > rank:
                return value
        raise ValueError("rank out of range")

    return timedelta(seconds=(at((total - 1) // 2) + at(total // 2)) / 2)


def passkey_logins(days: list[date]) -> dict[date, int]:
    """Logins by passkey per day of ``days``: each is a message not sent."""
    if not days:
        return {}
    start = datetime.combine(days[0], time.min)
    if settings.USE_TZ:
        start = make_aware(start)
    rows = (
        PasskeyEvent.objects.filter(kind=PasskeyEventKind.LOGGED_IN, at__gte=start)
        .annotate(day=TruncDate("at"))
        .values("day")
        .annotate(count=Count("id"))
    )
    wanted = set(days)
    return {row["day"]: row["count"] for row in rows if row["day"] in wanted}
