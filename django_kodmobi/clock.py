"""The one clock every rule reads: expiry, cooldowns, limits, lockouts.

Everything time-based in the app asks this module, so a test moves all of
it at once with time-machine and no rule depends on where the wall clock
stands.
"""

from __future__ import annotations

from datetime import date, datetime, time

from django.conf import settings
from django.utils import timezone

__all__ = ["epoch", "now", "project_time", "start_of", "today"]


def now() -> datetime:
    """The current time: aware (UTC), or naive in the project's time zone
    when ``USE_TZ`` is off, as Django's own."""
    return timezone.now()


def project_time(moment: datetime) -> datetime:
    """An aware ``moment`` (kod.mobi's times are) as the project keeps
    times: as it is, or naive in the project's time zone without
    ``USE_TZ``."""
    return moment if settings.USE_TZ else timezone.make_naive(moment)


def today() -> date:
    """Today, in the project's time zone."""
    return timezone.localdate(now()) if settings.USE_TZ else now().date()


def start_of(day: date) -> datetime:
    """The midnight that starts ``day`` in the project's time zone."""
    midnight = datetime.combine(day, time.min)
    return timezone.make_aware(midnight) if settings.USE_TZ else midnight


def epoch() -> float:
    """The current time in seconds since the epoch (for cache timestamps)."""
    return now().timestamp()
