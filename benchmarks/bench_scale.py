"""A login at scale: verify as the audit grows, logins while it is cleaned up.

1. ``verify_code``'s p50 with 10^3 OTP sessions in the table and with
   10^6 (the same code path, the same sandbox on loopback): an index scan
   stays flat. The two sizes live in two databases (the large one a copy
   of the small one, then filled), and the process switches between them
   round by round, so that the machine's noise falls on both alike; the
   ratio is the median of the per-round ratios of the p50s.
2. Logins' p95 on their own (before and after), and while
   ``kodmobi_cleanup`` deletes the backlog of those 10^6 rows in a process
   of its own (as a cron job would): short batches, with a rest after each,
   do not hold them up. The backlog holds every table it
   prunes: flows and events, a kod.mobi session per flow, and per ten an
   expired passkey challenge and an ended trusted browser.

PostgreSQL only (concurrent connections). Prints JSON.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m benchmarks.bench_scale
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.common import (
    database_url,
    percentile,
    returning_user,
    sandbox_site,
    test_databases,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--verifies", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--spread-days", type=int, default=116)
    parser.add_argument(
        "--cleanup-args",
        default="",
        help="options for kodmobi_cleanup, e.g. '--batch-size 200' (default: none)",
    )
    args = parser.parse_args()
    with test_databases(), sandbox_site() as (engine, _server):
        print(json.dumps(measure(args, engine), indent=2))


def measure(args: argparse.Namespace, engine: Any) -> dict[str, Any]:
    from django.db import connection

    from benchmarks.bench_admin_charts import fill
    from django_kodmobi.services import start_login, verify_and_log_in, verify_code
    from tests.helpers import session_request

    serial = iter(range(10**9))

    def verify_times(count: int) -> list[float]:
        times = []
        for _ in range(count):
            email = returning_user(next(serial))
            flow = start_login(email)
            code = engine.last_code(email)
            started = time.perf_counter()
            verify_code(flow.session.pk, flow.token, code)
            times.append(time.perf_counter() - started)
        return times

    def log_in_once() -> float:
        email = returning_user(next(serial))
        started = time.perf_counter()
        flow = start_login(email)
        verify_and_log_in(
            session_request(), flow.session.pk, flow.token, engine.last_code(email)
        )
        return time.perf_counter() - started

    def settle() -> None:
        """The tables as autovacuum keeps them in production (statistics
        current), and the bulk load's writes flushed, so that neither its
        checkpoint nor a stale plan falls into a measurement."""
        with connection.cursor() as cursor:
            for table in (
                "kodmobi_otpsession",
                "kodmobi_otpevent",
                "kodmobi_kodsession",
                "kodmobi_passkeychallenge",
                "kodmobi_trustedbrowser",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("CHECKPOINT")

    if connection.vendor != "postgresql":
        raise SystemExit("bench_scale needs PostgreSQL: set DATABASE_URL")
    small = connection.settings_dict["NAME"]
    large = f"{small}_large"
    fill(1000, args.spread_days)
    settle()
    with maintenance() as cursor:
        connection.close()  # a template must have no one connected
        cursor.execute(f'DROP DATABASE IF EXISTS "{large}"')
        cursor.execute(f'CREATE DATABASE "{large}" TEMPLATE "{small}"')
    try:
        use_database(large)
        fill(args.rows, args.spread_days, pruned_too=True)
        settle()
        p50s: dict[str, list[float]] = {small: [], large: []}
        per_round = args.verifies // args.rounds
        for _ in range(args.rounds):
            for name in (small, large):
                use_database(name)
                verify_times(3)  # warm up the new connection
                p50s[name].append(statistics.median(verify_times(per_round)))
        result: dict[str, Any] = {
            "benchmark": "scale",
            "database": connection.vendor,
            "verify_p50_ms": {
                "1e3_rows": round(statistics.median(p50s[small]) * 1000, 2),
                f"{args.rows:.0e}_rows": round(
                    statistics.median(p50s[large]) * 1000, 2
                ),
                "ratio": round(
                    statistics.median(
                        big / few
                        for few, big in zip(p50s[small], p50s[large], strict=True)
                    ),
                    2,
                ),
                "rounds": args.rounds,
            },
        }
        use_database(large)  # the backlog to clean up
        result |= logins_during_cleanup(args, log_in_once)
    finally:
        use_database(small)  # and no one on the large one, to drop it
        with maintenance() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{large}"')
    return result


def logins_during_cleanup(
    args: argparse.Namespace, log_in_once: Callable[[], float]
) -> dict[str, Any]:
    """Logins' p95 on their own (half before ``kodmobi_cleanup``, half
    after: the machine's drift falls on both sides), and while it runs."""
    quiet = [log_in_once() for _ in range(args.verifies // 2)]
    # The cleanup as it runs in production: a process of its own (cron),
    # on the database this one made.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
    }
    command = [sys.executable, "-m", "django", "kodmobi_cleanup", "--verbosity", "0"]
    command += args.cleanup_args.split()
    started = time.perf_counter()
    cleanup = subprocess.Popen(  # noqa: S603 - our own command
        command, env=env, stdout=subprocess.DEVNULL
    )
    during: list[float] = []
    while cleanup.poll() is None:
        during.append(log_in_once())
    cleanup_seconds = time.perf_counter() - started
    if cleanup.returncode:
        raise SystemExit(f"kodmobi_cleanup failed ({cleanup.returncode})")
    quiet += [log_in_once() for _ in range(args.verifies - len(quiet))]
    return {
        "login_p95_ms": {
            "quiet": round(percentile(quiet, 0.95) * 1000, 2),
            "during_cleanup": round(percentile(during, 0.95) * 1000, 2),
            "ratio": round(percentile(during, 0.95) / percentile(quiet, 0.95), 2),
            "logins_during_cleanup": len(during),
        },
        "cleanup_seconds": round(cleanup_seconds, 1),
    }


def use_database(name: str) -> None:
    """Point the default connection at database ``name`` (from the next
    query on)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


@contextmanager
def maintenance() -> Iterator[Any]:
    """A cursor on the server's ``postgres`` database, in autocommit (for
    CREATE and DROP DATABASE)."""
    import psycopg
    from django.db import connection

    database = connection.settings_dict
    with psycopg.connect(
        host=database["HOST"],
        port=database["PORT"] or 5432,
        user=database["USER"],
        dbname="postgres",
        autocommit=True,
    ) as maintenance_connection:
        yield maintenance_connection.cursor()


if __name__ == "__main__":
    main()
