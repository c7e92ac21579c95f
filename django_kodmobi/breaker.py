"""A circuit breaker in front of kod.mobi, shared by every worker.

After ``BREAKER_FAILURES`` failed calls in a row (no answer in time, a 5xx,
a reply that makes no sense), calls stop for ``BREAKER_COOLDOWN`` seconds:
a person is told at once that the code service is down instead of waiting
for a deadline, and kod.mobi gets room to recover. Then one call goes
through as a probe (half-open): if it succeeds the breaker closes, if it
fails it opens again. The state sits in Django's default cache, so with
Redis all workers and hosts agree.

A refusal by kod.mobi (a wrong code, a bad number) is an answer, not a
failure: it closes the breaker like any success.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from . import clock, soft_cache
from .client import (
    KodMobiAPIError,
    KodMobiConnectionError,
    KodMobiError,
    KodMobiResponseError,
    KodMobiServerError,
)
from .conf import settings

__all__ = [
    "CircuitOpenError",
    "guard",
    "is_outage",
    "is_unexplained",
    "refuse_while_open",
    "reset",
]

_FAILURES = "kodmobi:breaker:failures"
_OPEN_UNTIL = "kodmobi:breaker:open-until"
_PROBE = "kodmobi:breaker:probe"


class CircuitOpenError(KodMobiConnectionError):
    """kod.mobi was not called: it failed too often just now."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"kod.mobi circuit open for {retry_after} s more")
        self.retry_after = retry_after


def is_outage(exc: KodMobiError) -> bool:
    """True when ``exc`` says kod.mobi is down, not that it refused."""
    if isinstance(exc, CircuitOpenError):
        return False
    return isinstance(
        exc, (KodMobiConnectionError, KodMobiResponseError, KodMobiServerError)
    ) or is_unexplained(exc)


def is_unexplained(exc: KodMobiError) -> bool:
    """An error reply that is not kod.mobi's: no ``sys_message`` says what
    was refused (a proxy's 401, 413 or 431, a gateway's bare 429)."""
    return isinstance(exc, KodMobiAPIError) and not exc.sys_message


@contextmanager
def guard(*, just_answered: bool = False) -> Iterator[None]:
    """Run one kod.mobi call under the breaker.

    The breaker fails open: while the cache that holds its state is down,
    calls go through (the deadline still bounds each one), since refusing
    them would turn a cache outage into a kod.mobi outage.

    ``just_answered`` says the call continues an operation whose previous
    call kod.mobi has just answered (a code's verify token, redeemed right
    after the check that gave it): that answer is fresher news than the
    breaker's state, so the state is not read again; a failure still counts.

    :raises CircuitOpenError: instead of calling, while the breaker is open
        (and, once the cool-down is over, for all but the one probe).
    """
    state = {} if just_answered else soft_cache.get_many([_OPEN_UNTIL, _FAILURES])
    open_until = state.get(_OPEN_UNTIL)
    if open_until is not None:
        _refuse_before(open_until)
        # Half-open: one probe per time the breaker opened, across workers.
        # The probe's key names that opening, so a caller that read the
        # state before a failed probe re-opened the breaker cannot take a
        # fresh one; it lives at most one call's deadline.
        if not soft_cache.add(
            f"{_PROBE}:{open_until!r}",
            1,
            timeout=math.ceil(settings.DEADLINE) + 1,
            default=True,
        ):
            raise CircuitOpenError(1)
    try:
        yield
    except KodMobiError as exc:
        if is_outage(exc):
            _count_failure()
        elif state:
            _close()
        raise
    if state:
        _close()


def refuse_while_open() -> None:
    """Refuse as :func:`guard` would while the breaker is open, without a
    call to count: for answers made up here that must not stand out from
    kod.mobi's (a silent unknown's, while a known person's start is refused).

    :raises CircuitOpenError: while the breaker is open.
    """
    open_until = soft_cache.get(_OPEN_UNTIL)
    if open_until is not None:
        _refuse_before(open_until)


def _refuse_before(open_until: float) -> None:
    now = clock.epoch()
    if now < open_until:
        raise CircuitOpenError(max(1, math.ceil(open_until - now)))


def reset() -> None:
    """Close the breaker and forget its failures (tests, or by hand)."""
    _close()


def _close() -> None:
    soft_cache.delete_many([_FAILURES, _OPEN_UNTIL])


def _count_failure() -> None:
    failures = soft_cache.incr_or_start(_FAILURES)
    if failures is not None and failures >= settings.BREAKER_FAILURES:
        soft_cache.set(
            _OPEN_UNTIL, clock.epoch() + settings.BREAKER_COOLDOWN, timeout=None
        )
