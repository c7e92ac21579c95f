"""The one clock every rule reads: expiry, cooldowns, limits, lockouts.

Everything time-based in the app asks this module, so a test moves all of
it at once with time-machine and no rule depends on where the wall clock
stands.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

__all__ = ["epoch", "now"]


def now() -> datetime:
    """The current time, aware (UTC)."""
    return timezone.now()


def epoch() -> float:
    """The current time in seconds since the epoch (for cache timestamps)."""
    return now().timestamp()
