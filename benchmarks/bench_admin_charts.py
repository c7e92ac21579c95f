"""The admin charts page at 10^3 and 10^6 OTP sessions (plus ~2.7 events each).

Rows are generated in the database (one INSERT ... SELECT over a recursive
counter), spread over ``--spread-days`` days: 30 (the default) puts them all
in the window the page reads, the worst case; 90 is a full
``RETENTION_DAYS``. For each
size it times the report cold (an empty cache: the whole window is read, as
on the first view of a day) and warm (settled days cached: today and
yesterday are read), and the whole warm page through the admin, median of
``--repeat`` runs, and prints JSON.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m benchmarks.bench_admin_charts
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from benchmarks.common import setup_django, test_databases

DAY = 24 * 3600

_NUMBERS = (
    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %s)"
)
# ``{ago}`` becomes the vendor's "``base`` minus this many seconds".
_SESSIONS = (
    _NUMBERS
    + """
INSERT INTO kodmobi_otpsession (
    id, kodmobi_session_id, identifier, identifier_kind, purpose, status,
    channel, channels_offered, channel_cooldowns, expires_at, attempts,
    failed_attempts, resends, flow_token_hash, streak_key, user_agent,
    device_key, silent, last_error, created_at, updated_at, sent_at,
    verified_at, consumed_at)
SELECT
    {id}, '', 'p' || n || '@example.com',
    'email', 'login',
    CASE WHEN n %% 10 < 7 THEN 'consumed' WHEN n %% 10 = 7 THEN 'failed' ELSE 'expired' END,
    CASE WHEN n %% 10 = 7 THEN ''
         ELSE (CASE n %% 4 WHEN 0 THEN 'telegram' WHEN 1 THEN 'whatsapp'
                           WHEN 2 THEN 'sms' ELSE 'email' END) END,
    '[]', '{}', {ago_n}, 0, 0, 0, '', '', '', '', FALSE, '',
    {ago_n}, {ago_n},
    CASE WHEN n %% 10 = 7 THEN NULL ELSE {ago_n} END,
    CASE WHEN n %% 10 < 7 THEN {ago_n_less_wait} END,
    CASE WHEN n %% 10 < 7 THEN {ago_n_less_wait} END
FROM g
"""
)
_EVENTS = """
INSERT INTO kodmobi_otpevent (session_id, kind, at, channel, detail)
SELECT id, 'created', created_at, '', '' FROM kodmobi_otpsession
UNION ALL
SELECT id, 'sent', sent_at, channel, '' FROM kodmobi_otpsession WHERE sent_at IS NOT NULL
UNION ALL
SELECT id, 'logged_in', consumed_at, '', '' FROM kodmobi_otpsession
    WHERE consumed_at IS NOT NULL
UNION ALL
SELECT id, 'failed', created_at, '', 'KodMobiTimeoutError' FROM kodmobi_otpsession
    WHERE status = 'failed'
"""


# What else kodmobi_cleanup prunes, as a site gathers it: a kod.mobi session
# per flow, and per ten flows an expired passkey challenge and a trusted
# browser whose trust ended when the flow was made.
_PRUNED_TOO = (
    """
INSERT INTO kodmobi_kodsession (id, attempts, failures, origin, joined_attempts,
    checked_at, channel, created_at)
SELECT 'k' || id, 1, 0, id, 0, NULL, channel, created_at FROM kodmobi_otpsession
""",
    """
INSERT INTO kodmobi_passkeychallenge (challenge, purpose, user_id, expires_at)
SELECT 'c' || id, 'login', NULL, created_at FROM kodmobi_otpsession
    WHERE id LIKE '%%0'
""",
    """
INSERT INTO kodmobi_trustedbrowser (id, user_id, password_digest, created_at,
    expires_at, revoked_at, revoked_reason)
SELECT {uuid}, %s, '', created_at, created_at, NULL, ''
    FROM kodmobi_otpsession WHERE id LIKE '%%0'
""",
)


def _padded(vendor: str) -> str:
    """``n`` as a 26-character primary key."""
    if vendor == "postgresql":
        return "lpad(n::text, 26, '0')"
    return "substr('00000000000000000000000000' || n, -26, 26)"


def _ago(vendor: str, seconds: str) -> str:
    if vendor == "postgresql":
        return f"(%(base)s::timestamptz - make_interval(secs => {seconds}))"
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', %(base)s, '-' || ({seconds}) || ' seconds')"


def fill(rows: int, spread_days: int = 30, *, pruned_too: bool = False) -> None:
    """``rows`` login flows over the last ``spread_days``, with their events;
    ``pruned_too``: and what else the cleanup prunes (``_PRUNED_TOO``)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from django_kodmobi.models import OTPEvent, OTPSession

    vendor = connection.vendor
    OTPEvent.objects.all().delete()
    OTPSession.objects.all().delete()
    span = spread_days * DAY
    spacing = max(span // rows, 1)
    sql = (
        _SESSIONS.replace("{id}", _padded(vendor))
        .replace("{ago_n}", _ago(vendor, f"(n * {spacing}) %% {span}"))
        .replace(
            "{ago_n_less_wait}",
            _ago(vendor, f"(n * {spacing}) %% {span} - 5 - n %% 60"),
        )
    )
    base = timezone.now().replace(microsecond=0)
    if vendor != "postgresql":  # SQLite stores naive UTC text
        base = base.replace(tzinfo=None)
    with transaction.atomic(), connection.cursor() as cursor:
        # The named base and the positional count, one parameter style.
        cursor.execute(sql.replace("%s", "%(rows)s"), {"rows": rows, "base": base})
        cursor.execute(_EVENTS)
        if pruned_too:
            owner = get_user_model().objects.create(username="trusting")
            uuid = (
                "md5(id)::uuid"
                if vendor == "postgresql"
                else "lower(hex(randomblob(16)))"  # as Django stores a UUID
            )
            for statement in _PRUNED_TOO:
                params = [owner.pk] if "%s" in statement else []
                cursor.execute(statement.replace("{uuid}", uuid), params)
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE kodmobi_otpsession; ANALYZE kodmobi_otpevent")


def timed(action: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--spread-days", type=int, default=30)
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from django_kodmobi.admin import stats
    from django_kodmobi.models import OTPEvent

    with test_databases():
        admin = get_user_model().objects.create_superuser("admin", "a@example.com", "x")
        client = Client()
        client.force_login(admin)
        url = reverse("admin:kodmobi_otpsession_charts")
        results = []
        for rows in (int(size) for size in args.sizes.split(",")):
            started = time.perf_counter()
            fill(rows, args.spread_days)
            filled = time.perf_counter() - started

            def cold_report() -> None:
                cache.clear()
                stats.report(30)

            def page() -> None:
                assert client.get(url).status_code == 200

            results.append(
                {
                    "sessions": rows,
                    "events": OTPEvent.objects.count(),
                    "fill_s": round(filled, 1),
                    "report_cold_ms": timed(cold_report, args.repeat),
                    "report_warm_ms": timed(lambda: stats.report(30), args.repeat),
                    "page_warm_ms": timed(page, args.repeat),
                }
            )
        print(
            json.dumps(
                {
                    "benchmark": "admin charts page, last 30 days",
                    "database": connection.vendor,
                    "repeat": args.repeat,
                    "spread_days": args.spread_days,
                    "results": results,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
