"""Rate limits on starting flows and checking codes, in Django's cache.

Fixed windows counted with ``cache.add`` + ``cache.incr``, which are atomic
on Redis and Memcached (and on the local-memory cache within a process), so a
limit holds across every worker that shares the cache. Keys hold a hash of
the identifier or IP, never the value.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

from django.core.cache import cache

from .conf import settings
from .exceptions import Failure, VerificationError

__all__ = ["Rate", "check_rate", "parse_rate"]

_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(text: str) -> Rate:
    """Parse ``"20/m"``, ``"3/10m"``, ``"100/d"``: a count per period."""
    match = _RATE.fullmatch(text or "")
    if not match or int(match[1]) < 1:
        raise ValueError(f"not a rate like '20/m' or '3/10m': {text!r}")
    multiple = int(match[2] or 1)
    if multiple < 1:
        raise ValueError(f"not a rate like '20/m' or '3/10m': {text!r}")
    return Rate(int(match[1]), multiple * _SECONDS[match[3]])


def check_rate(name: str, value: str | None) -> None:
    """Count one use of ``name`` for ``value``; refuse past the limit.

    ``name`` is a key of ``KODMOBI["RATE_LIMITS"]``; a missing or empty limit
    or an unknown ``value`` (no IP) counts nothing.

    :raises VerificationError: ``rate_limited`` with ``retry_after``.
    """
    text = settings.RATE_LIMITS.get(name)
    if not text or not value:
        return
    rate = parse_rate(text)
    now = time.time()
    window = int(now // rate.seconds)
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    key = f"kodmobi:rate:{name}:{digest}:{window}"
    # add() makes the key with the window's lifetime only if it is missing;
    # incr() is then atomic, so concurrent requests cannot both slip through.
    cache.add(key, 0, timeout=rate.seconds + 1)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add() and incr(): a fresh window
        cache.add(key, 1, timeout=rate.seconds + 1)
        used = 1
    if used > rate.count:
        retry_after = int((window + 1) * rate.seconds - now) + 1
        raise VerificationError(Failure.RATE_LIMITED, retry_after=retry_after)
