"""Django's cache where it only saves work: a cache outage costs a call to
kod.mobi, never a request.

The channel lists, the circuit breaker's state and the like are kept in the
default cache (Redis in production). When it is down, reads here miss and
writes are dropped, with a warning in the log. The rate limits are the one
use that fails closed instead (``limits``): they must not let a flood
through unmetered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache import cache

__all__ = ["add", "delete_many", "get", "get_many", "incr_or_start", "set"]

logger = logging.getLogger("django_kodmobi.cache")

_T = TypeVar("_T")


def _safely(operation: Callable[[], _T], default: _T) -> _T:
    try:
        return operation()
    except Exception as exc:  # noqa: BLE001 - any backend's connection error
        # One line per failure: an outage must not flood the log.
        logger.warning(
            "the cache is unavailable; going on without it: %s", type(exc).__name__
        )
        return default


def get(key: str, default: Any = None) -> Any:
    return _safely(lambda: cache.get(key, default), default)


def get_many(keys: Iterable[str]) -> dict[str, Any]:
    return _safely(lambda: cache.get_many(list(keys)), {})


def set(key: str, value: Any, timeout: float | None) -> None:  # noqa: A001
    _safely(lambda: cache.set(key, value, timeout), None)


def add(key: str, value: Any, timeout: float | None, *, default: bool) -> bool:
    """``cache.add``; ``default`` when the cache cannot say."""
    return _safely(lambda: bool(cache.add(key, value, timeout)), default)


def delete_many(keys: Iterable[str]) -> None:
    _safely(lambda: cache.delete_many(list(keys)), None)


def incr_or_start(key: str) -> int | None:
    """Add one to counter ``key`` (made at 1 if missing, kept until
    deleted); ``None`` when the cache is down."""

    def incr() -> int:
        cache.add(key, 0, timeout=None)
        try:
            return int(cache.incr(key))
        except ValueError:  # deleted meanwhile
            cache.add(key, 1, timeout=None)
            return 1

    return _safely(incr, None)
