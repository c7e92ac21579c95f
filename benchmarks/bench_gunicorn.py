"""Logins over HTTP through gunicorn with 2 workers, PostgreSQL and Redis:
the REST API against the floor's minimal views, served side by side.

Two client threads log in at once, so both workers serve; rounds alternate
the variants, and the ratio is the median of per-round ratios (floor time ÷
API time). Each API login first fetches the CSRF cookie (``config/``, as a
page load would), untimed; the floor's views need none. The app's
connections to kod.mobi are counted at the sandbox (the floor reaches the
same sandbox on another port): a worker's pooled client keeps one.
Prints JSON.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
    CACHE_URL=rediscache://127.0.0.1:6379/1 \\
        .venv/bin/python -m benchmarks.bench_gunicorn
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import requests

from benchmarks.common import (
    database_url,
    percentile,
    returning_user,
    sandbox_site,
    test_databases,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    quick = bool(os.environ.get("BENCH_QUICK"))
    parser.add_argument("--rounds", type=int, default=3 if quick else 7)
    parser.add_argument("--logins", type=int, default=40 if quick else 150)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with test_databases(), sandbox_site() as (engine, server):
        print(json.dumps(measure(args, engine, server), indent=2))


@contextmanager
def gunicorn(workers: int, env: dict[str, str], threads: int = 1) -> Iterator[str]:
    """The benchmarks' site under gunicorn (``threads`` per worker: gthread
    when more than one); yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "gunicorn", "benchmarks.wsgi:application"]
    command += ["--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
    command += ["--threads", str(threads), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env)  # noqa: S603 - our own command
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(f"{base}/api/auth/config/", timeout=5)
                break
            # Not listening yet, or listening while its workers still load
            # Django (slow on a busy machine).
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure(args: argparse.Namespace, engine: Any, server: Any) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection

    from django_kodmobi.sandbox import SandboxServer

    if connection.vendor != "postgresql" or "Redis" not in str(
        settings.CACHES["default"]["BACKEND"]
    ):
        raise SystemExit(
            "bench_gunicorn needs DATABASE_URL (PostgreSQL), CACHE_URL (Redis)"
        )
    floor_server = SandboxServer(engine).start()  # the same sandbox, another port
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.served",
        # The workers use the test database this process made.
        "DATABASE_URL": database_url(),
        "BENCH_KODMOBI_URL": server.url,
        "BENCH_FLOOR_KODMOBI_URL": floor_server.url,
        "BENCH_KODMOBI_PUBLIC_KEY": engine.config.public_key,
        "BENCH_KODMOBI_SECRET_KEY": engine.config.secret_key,
    }
    serial = iter(range(10**9))

    def api(base: str, email: str) -> float:
        http = requests.Session()
        http.get(f"{base}/api/auth/config/", timeout=10)
        headers = {"X-CSRFToken": http.cookies["csrftoken"]}
        started = time.perf_counter()
        flow = http.post(
            f"{base}/api/auth/start/",
            json={"identifier": email},
            headers=headers,
            timeout=10,
        ).json()["flow"]
        reply = http.post(
            f"{base}/api/auth/verify/",
            json={"flow": flow, "code": engine.last_code(email)},
            headers=headers,
            timeout=10,
        )
        assert reply.status_code == 200, reply.content
        return time.perf_counter() - started

    def floor(base: str, email: str) -> float:
        http = requests.Session()
        started = time.perf_counter()
        session_id = http.post(
            f"{base}/floor/start/", json={"identifier": email}, timeout=10
        ).json()["session_id"]
        reply = http.post(
            f"{base}/floor/verify/",
            json={"session_id": session_id, "code": engine.last_code(email)},
            timeout=10,
        )
        assert reply.status_code == 200, reply.content
        return time.perf_counter() - started

    variants: dict[str, Callable[[str, str], float]] = {
        "floor_views": floor,
        "api": api,
    }
    per_login: dict[str, list[float]] = {name: [] for name in variants}
    round_totals: list[dict[str, float]] = []
    # The app's connections to kod.mobi, from the workers' start to the end.
    before = server.connections
    with gunicorn(args.workers, env) as base, ThreadPoolExecutor(2) as clients:
        for _ in range(args.rounds):
            totals = {}
            for name, login in variants.items():
                emails = [returning_user(next(serial)) for _ in range(args.logins)]
                started = time.perf_counter()
                times = list(clients.map(login, [base] * len(emails), emails))
                totals[name] = time.perf_counter() - started
                per_login[name] += times
            round_totals.append(totals)
    floor_server.stop()
    app_connections = server.connections - before
    return {
        "benchmark": "gunicorn",
        "workers": args.workers,
        "client_threads": 2,
        "rounds": args.rounds,
        "logins_per_round": args.logins,
        "api_vs_floor_views": round(
            statistics.median(t["floor_views"] / t["api"] for t in round_totals), 2
        ),
        "app_upstream_connections": (
            f"{app_connections} over {args.rounds * args.logins} API logins"
            f" and {args.workers} workers"
        ),
        "ms": {
            name: {
                "p50": round(percentile(values, 0.5) * 1000, 2),
                "p95": round(percentile(values, 0.95) * 1000, 2),
            }
            for name, values in per_login.items()
        },
    }


if __name__ == "__main__":
    main()
