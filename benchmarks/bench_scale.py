"""A login at scale: verify as the audit grows, logins while it is cleaned up.

1. ``verify_code``'s p50 with 10^3 OTP sessions in the table, then with
   10^6 (the same code path, the same sandbox on loopback): an index scan
   stays flat.
2. Logins' p95 on their own, then while ``kodmobi_cleanup`` deletes the
   backlog of those 10^6 rows in a process of its own (as a cron job would):
   short batches do not hold them up.

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
    parser.add_argument("--spread-days", type=int, default=116)
    args = parser.parse_args()
    with test_databases(), sandbox_site() as (engine, _server):
        print(json.dumps(measure(args, engine), indent=2))


def measure(args: argparse.Namespace, engine: Any) -> dict[str, Any]:
    from django.db import connection

    from benchmarks.bench_admin_charts import fill
    from django_kodmobi.services import start_login, verify_and_log_in, verify_code
    from tests.helpers import session_request

    serial = iter(range(10**9))

    def verify_p50() -> float:
        times = []
        for _ in range(args.verifies):
            email = returning_user(next(serial))
            flow = start_login(email)
            code = engine.last_code(email)
            started = time.perf_counter()
            verify_code(flow.session.pk, flow.token, code)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def log_in_once() -> float:
        email = returning_user(next(serial))
        started = time.perf_counter()
        flow = start_login(email)
        verify_and_log_in(
            session_request(), flow.session.pk, flow.token, engine.last_code(email)
        )
        return time.perf_counter() - started

    if connection.vendor != "postgresql":
        raise SystemExit("bench_scale needs PostgreSQL: set DATABASE_URL")
    fill(1000, args.spread_days)
    verify_p50()  # warm up: connections, caches
    small = verify_p50()
    fill(args.rows, args.spread_days)
    large = verify_p50()

    quiet = [log_in_once() for _ in range(args.verifies)]
    # The cleanup as it runs in production: a process of its own (cron),
    # on the database this one made.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
    }
    command = [sys.executable, "-m", "django", "kodmobi_cleanup", "--verbosity", "0"]
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
    return {
        "benchmark": "scale",
        "database": connection.vendor,
        "verify_p50_ms": {
            "1e3_rows": round(small * 1000, 2),
            f"{args.rows:.0e}_rows": round(large * 1000, 2),
            "ratio": round(large / small, 2),
        },
        "login_p95_ms": {
            "quiet": round(percentile(quiet, 0.95) * 1000, 2),
            "during_cleanup": round(percentile(during, 0.95) * 1000, 2),
            "ratio": round(percentile(during, 0.95) / percentile(quiet, 0.95), 2),
            "logins_during_cleanup": len(during),
        },
        "cleanup_seconds": round(cleanup_seconds, 1),
    }


if __name__ == "__main__":
    main()
