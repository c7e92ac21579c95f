"""Rate limits on starting flows, sending codes and checking them.

Each limit is a list of rates (``"20/m,60/h"``) counted as a sliding-window
log: a request is allowed when, for every rate, fewer than ``count`` allowed
requests fall in the last ``seconds``. That holds in *every* window, so there
is no double burst at a window edge as with fixed windows. A refused request
is not recorded: hammering a limit does not extend it.

On Redis (Django's ``RedisCache`` or django-redis's) one Lua script checks
and records all the rates of a limit in one round trip, atomically, so a
limit is exact across every worker and host sharing the cache. On other
caches the log is updated under a process lock: exact within one process
only (system checks ``kodmobi.W004`` and ``W005`` warn about it).

Keys hold a keyed hash of the identifier or IP, never the value.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

from . import clock
from .conf import settings
from .exceptions import Failure, VerificationError

__all__ = [
    "Rate",
    "Receipt",
    "address_key",
    "cache_outage",
    "check_rate",
    "check_rates",
    "counts_exactly",
    "digest",
    "parse_rate",
    "parse_rates",
    "refund",
]

logger = logging.getLogger("django_kodmobi.limits")

_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(text: str) -> Rate:
    """Parse ``"20/m"``, ``"3/10m"``, ``"100/d"``: a count per period."""
    match = _RATE.fullmatch(text or "")
    if not match or int(match[1]) < 1 or int(match[2] or 1) < 1:
        raise ValueError(f"not a rate like '20/m' or '3/10m': {text!r}")
    return Rate(int(match[1]), int(match[2] or 1) * _SECONDS[match[3]])


def parse_rates(text: str) -> tuple[Rate, ...]:
    """Parse ``"20/m,60/h"``: every rate must hold. Empty: no limit."""
    return tuple(parse_rate(part) for part in (text or "").split(",") if part.strip())


def digest(value: str) -> str:
    """A keyed hash of ``value`` for cache keys: no phone, email or IP in clear."""
    key = str(django_settings.SECRET_KEY).encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def address_key(ip: str | None) -> str | None:
    """The address limits and pauses count ``ip`` under: itself for IPv4,
    its network of ``IPV6_PREFIX`` bits for IPv6 (a host holds a whole /64,
    so each of its addresses must not count apart), and the IPv4 address
    inside an IPv4-mapped IPv6 one."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        prefix = max(0, min(128, settings.IPV6_PREFIX))
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    return str(address)


def check_rate(name: str, value: str | None) -> Receipt:
    """Count one use of limit ``name`` for ``value``; refuse past the limit.

    :raises VerificationError: ``rate_limited`` with ``retry_after``, or
        ``unavailable`` when the cache cannot be reached.
    """
    return check_rates([(name, value)])


@dataclass(frozen=True)
class Receipt:
    """What :func:`check_rates` counted: each log's key, the limit it
    belongs to, its window, and the entry made in it (for :func:`refund`)."""

    entries: tuple[tuple[str, str, int, float, str], ...] = ()


def check_rates(uses: Iterable[tuple[str, str | None]]) -> Receipt:
    """Count one use of each limit for its value, all or none.

    Each name is a key of ``KODMOBI["RATE_LIMITS"]``; an empty limit is off.
    The value is what is counted (an IP, an identifier); a use with no value
    (a request without an address) counts under one shared key, so a
    missing value never escapes a limit. If any limit is full nothing is
    counted, so a refused request costs its sender nothing more.

    The limits fail closed: when the cache is down nobody can be counted,
    so nobody is let through to send a code (``unavailable``, 503 with
    ``Retry-After``), rather than let a flood through unmetered.

    :raises VerificationError: ``rate_limited`` with ``retry_after``, or
        ``unavailable``.
    """
    logs: list[tuple[str, Rate, str]] = []
    for name, value in uses:
        base = f"kodmobi:rate:{name}:{digest(value or '-')}"
        for rate in parse_rates(settings.RATE_LIMITS.get(name, "")):
            logs.append((f"{base}:{rate.count}/{rate.seconds}", rate, name))
    if not logs:
        return Receipt()
    now = clock.epoch()
    member = f"{now!r}:{secrets.token_hex(8)}"
    try:
        wait = _hit([(key, rate) for key, rate, _name in logs], now, member)
    except Exception as exc:  # noqa: BLE001 - any cache failure is an outage
        raise cache_outage(exc) from exc
    if wait > 0:
        raise VerificationError(Failure.RATE_LIMITED, retry_after=math.ceil(wait))
    return Receipt(
        tuple((key, name, rate.seconds, now, member) for key, rate, name in logs)
    )


def refund(receipt: Receipt, names: Iterable[str]) -> None:
    """Give back the uses ``receipt`` counted under the limits ``names``
    (the message they paid for was never sent). Best effort: a cache that
    fails now keeps the use counted, which errs on the safe side."""
    wanted = set(names)
    entries = [entry for entry in receipt.entries if entry[1] in wanted]
    if not entries:
        return
    try:
        redis = _redis_client(entries[0][0])
        if redis is not None:
            for key, _name, _seconds, _now, member in entries:
                redis.zrem(cache.make_and_validate_key(key), member)
            return
        with _local_lock:
            for key, _name, seconds, now, _member in entries:
                log = list(cache.get(key, []))
                if now in log:
                    log.remove(now)
                    cache.set(key, log, timeout=seconds + 1)
    except Exception:  # noqa: BLE001
        logger.warning("could not give back a rate-limit use", exc_info=True)


#: Seconds a client is asked to wait while the cache is down.
OUTAGE_RETRY_AFTER = 15


def cache_outage(exc: BaseException) -> VerificationError:
    """The answer while the cache that counts the limits is down."""
    logger.error(
        "the cache is unavailable; code logins wait for it: %s", type(exc).__name__
    )
    return VerificationError(Failure.UNAVAILABLE_HERE, retry_after=OUTAGE_RETRY_AFTER)


def _hit(logs: Sequence[tuple[str, Rate]], now: float, member: str) -> float:
    """Record one request in every log unless one is full; return the wait.

    ``logs`` pairs each log's cache key with the rate it counts.
    """
    redis = _redis_client(logs[0][0])
    if redis is not None:
        return _hit_redis(redis, logs, now, member)
    return _hit_locally(logs, now)


# -- Redis: one script, one round trip ------------------------------------------

_SCRIPT = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[2 * i + 1])
  local window = tonumber(ARGV[2 * i + 2])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local used = redis.call('ZCARD', key)
  if used >= count then
    local oldest = redis.call('ZRANGE', key, used - count, used - count, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i + 2]) * 1000) + 1000)
end
return '0'
"""


def _redis_client(key: str) -> Any:
    """The raw Redis client behind the default cache, else ``None``."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not counts_exactly(backend):
        return None
    if isinstance(backend, RedisCache):
        client: Any = backend._cache  # type: ignore[attr-defined]
        return client.get_client(key, write=True)
    return backend.client.get_client(write=True)  # type: ignore[attr-defined]


def counts_exactly(backend: Any) -> bool:
    """Whether limits on cache ``backend`` are exact across processes: it is
    Redis, through Django's ``RedisCache`` or django-redis's, where the
    script runs. Not a sharded django-redis cache: the logs of one check may
    live on different servers."""
    if isinstance(backend, RedisCache):
        return True
    if not type(backend).__module__.startswith("django_redis."):
        return False
    from django_redis.client import DefaultClient, ShardClient

    client = backend.client
    return isinstance(client, DefaultClient) and not isinstance(client, ShardClient)


def _hit_redis(
    redis: Any, logs: Sequence[tuple[str, Rate]], now: float, member: str
) -> float:
    args: list[Any] = [repr(now), member]
    for _key, rate in logs:
        args += [rate.count, rate.seconds]
    full_keys = [cache.make_and_validate_key(key) for key, _rate in logs]
    return float(_script(redis)(keys=full_keys, args=args, client=redis))


_registered: Any = None


def _script(redis: Any) -> Any:
    """The script, sent by its SHA1 (``EVALSHA``): Redis keeps it compiled,
    and redis-py loads it again if Redis has forgotten it (a restart,
    ``SCRIPT FLUSH``)."""
    global _registered
    if _registered is None:
        _registered = redis.register_script(_SCRIPT)
    return _registered


# -- any other cache: a log per key, under a process lock -------------------------

_local_lock = threading.Lock()


def _hit_locally(logs: Sequence[tuple[str, Rate]], now: float) -> float:
    with _local_lock:
        stored = cache.get_many([key for key, _rate in logs])
        kept: dict[str, list[float]] = {}
        wait = 0.0
        for key, rate in logs:
            # Each log is kept sorted: the uses still in the window are a
            # slice, found by bisection (a busy site's global log holds
            # thousands of uses).
            log = stored.get(key, [])
            log = log[bisect.bisect_right(log, now - rate.seconds) :]
            if len(log) >= rate.count:
                wait = max(wait, log[len(log) - rate.count] + rate.seconds - now)
            kept[key] = log
        if wait > 0:
            return wait
        for key, rate in logs:
            bisect.insort(kept[key], now)
            cache.set(key, kept[key], timeout=rate.seconds + 1)
        return 0.0
