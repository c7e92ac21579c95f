"""Served logins: the REST API against allauth's login by code, under load.

Both logins are served by one gunicorn (``--workers 4 --threads 8``) on the
database this process names (PostgreSQL + Redis, or a SQLite file in WAL
mode), while ``--clients`` client threads log in as fast as they are
answered. Each side hands its code to a service as far away as kod.mobi
really is:

- django-kodmobi calls kod.mobi (the sandbox, in a process of its own)
  through a :class:`~benchmarks.delay.DelayProxy`: each of a login's three
  calls is answered ``--kodmobi-ms`` later;
- allauth mails its code over SMTP to a server on loopback that accepts
  each message ``--kodmobi-ms`` later (one wait per message).

Every code is fixed (the sandbox's ``fixed_code``, allauth's adapter under
``BENCH_FIXED_CODE``), so a client types it without asking anyone. Each
login is a new returning user. Variants alternate in rounds of
``--seconds / --rounds``; each variant's rate is its successful logins ÷
its time, its p99 over all its logins. A CSRF cookie is fetched before each
login, untimed, as a page load would.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
    CACHE_URL=rediscache://127.0.0.1:6379/1 \\
        .venv/bin/python -m benchmarks.bench_served --seconds 60
    BENCH_SQLITE_FILE=/tmp/bench.sqlite3 .venv/bin/python -m benchmarks.bench_served
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import requests

from benchmarks.common import percentile, sandbox_process, test_databases

FIXED_CODE = "314159"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    quick = bool(os.environ.get("BENCH_QUICK"))
    parser.add_argument("--seconds", type=float, default=12 if quick else 60)
    parser.add_argument("--rounds", type=int, default=2 if quick else 4)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--kodmobi-ms", type=float, default=30)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    with test_databases():
        print(json.dumps(measure(args)))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from benchmarks.bench_gunicorn import gunicorn
    from benchmarks.common import database_url

    delay = args.kodmobi_ms / 1000
    with (
        sandbox_process(FIXED_CODE) as kodmobi_url,
        far_side(int(kodmobi_url.rsplit(":", 1)[1]), delay) as (kodmobi_far, smtp_port),
    ):
        from django.conf import settings

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "benchmarks.served",
            "BENCH_KODMOBI_URL": kodmobi_far,
            # The floor's views are not timed here; they need a URL all the same.
            "BENCH_FLOOR_KODMOBI_URL": kodmobi_far,
            "BENCH_KODMOBI_PUBLIC_KEY": settings.KODMOBI["PUBLIC_KEY"],
            "BENCH_KODMOBI_SECRET_KEY": settings.KODMOBI["SECRET_KEY"],
            "BENCH_SMTP_PORT": str(smtp_port),
            "BENCH_FIXED_CODE": FIXED_CODE,
        }
        if connection.vendor == "postgresql":
            env["DATABASE_URL"] = database_url()  # the test database made here
        # Enough new users for the fastest rate this machine could serve.
        per_variant = int(args.seconds * 400) + 1000
        pools = {name: _users(name, per_variant) for name in ("api", "allauth")}
        connection.close()  # the workers write; SQLite must not see us hold on
        logins = {"api": _api_login, "allauth": _allauth_login}
        results: dict[str, dict[str, Any]] = {
            name: {"done": 0, "failed": 0, "seconds": 0.0, "latencies": []}
            for name in logins
        }
        server = gunicorn(args.workers, env, threads=args.threads)
        with server as base:
            for name, login in logins.items():  # a warm-up: connections, imports
                _run(base, login, pools[name], args.clients, 2.0, None)
            for _ in range(args.rounds):
                for name, login in logins.items():
                    seconds = args.seconds / args.rounds
                    _run(base, login, pools[name], args.clients, seconds, results[name])
    summary = {
        name: {
            "logins": result["done"],
            "failed": result["failed"],
            "per_second": round(result["done"] / result["seconds"], 1),
            "p50_ms": round(percentile(result["latencies"] or [0], 0.5) * 1000, 1),
            "p99_ms": round(percentile(result["latencies"] or [0], 0.99) * 1000, 1),
        }
        for name, result in results.items()
    }
    ours, theirs = summary["api"], summary["allauth"]
    if not (ours["logins"] and theirs["logins"]):
        raise SystemExit(f"bench_served: a variant logged nobody in: {summary}")
    return {
        "database": connection.vendor,
        "workers": args.workers,
        "threads": args.threads,
        "clients": args.clients,
        "seconds_per_variant": args.seconds,
        "kodmobi_ms_per_call": args.kodmobi_ms,
        "served_rate_vs_allauth": round(ours["per_second"] / theirs["per_second"], 2),
        "served_p99_vs_allauth": round(theirs["p99_ms"] / ours["p99_ms"], 2),
        "variants": summary,
    }


def _users(prefix: str, count: int) -> queue.SimpleQueue[str]:
    """``count`` returning users, each with a verified contact (ours) and a
    verified address (allauth's); their emails."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    from django_kodmobi.models import Contact

    User = get_user_model()
    emails = [f"{prefix}{n}@example.com" for n in range(count)]
    users = User.objects.bulk_create(
        [User(username=email, email=email, password="!") for email in emails],
        batch_size=2000,
    )
    if users[0].pk is None:  # SQLite without RETURNING ids: read them back
        users = list(User.objects.filter(username__in=emails).order_by("pk"))
    Contact.objects.bulk_create(
        [
            Contact(user=user, kind="email", value=user.email, verified_at=_VERIFIED)
            for user in users
        ],
        batch_size=2000,
    )
    EmailAddress.objects.bulk_create(
        [
            EmailAddress(user=user, email=user.email, verified=True, primary=True)
            for user in users
        ],
        batch_size=2000,
    )
    pool: queue.SimpleQueue[str] = queue.SimpleQueue()
    for email in emails:
        pool.put(email)
    return pool


_VERIFIED = "2026-01-01T00:00Z"


def _csrf(base: str) -> tuple[requests.Session, dict[str, str]]:
    http = requests.Session()
    http.get(f"{base}/api/auth/config/", timeout=30)
    return http, {"X-CSRFToken": http.cookies["csrftoken"]}


def _api_login(base: str, email: str) -> float:
    http, headers = _csrf(base)
    started = time.perf_counter()
    started_flow = http.post(
        f"{base}/api/auth/start/",
        json={"identifier": email},
        headers=headers,
        timeout=30,
    )
    assert started_flow.status_code == 201, started_flow.content
    reply = http.post(
        f"{base}/api/auth/verify/",
        json={"flow": started_flow.json()["flow"], "code": FIXED_CODE},
        headers=headers,
        timeout=30,
    )
    assert reply.status_code == 200, reply.content
    return time.perf_counter() - started


def _allauth_login(base: str, email: str) -> float:
    http, headers = _csrf(base)
    started = time.perf_counter()
    requested = http.post(
        f"{base}/_allauth/browser/v1/auth/code/request",
        json={"email": email},
        headers=headers,
        timeout=30,
    )
    assert requested.status_code == 401, requested.content  # a code is pending
    reply = http.post(
        f"{base}/_allauth/browser/v1/auth/code/confirm",
        json={"code": FIXED_CODE},
        headers=headers,
        timeout=30,
    )
    assert reply.status_code == 200, reply.content
    return time.perf_counter() - started


def _run(
    base: str,
    login: Callable[[str, str], float],
    pool: queue.SimpleQueue[str],
    clients: int,
    seconds: float,
    into: dict[str, Any] | None,
) -> None:
    """``clients`` threads log in with users from ``pool`` for ``seconds``;
    counts go ``into`` (none for a warm-up)."""
    ends = time.perf_counter() + seconds
    lock = threading.Lock()

    def client() -> None:
        while time.perf_counter() < ends:
            try:
                email = pool.get_nowait()
            except queue.Empty:
                raise SystemExit("bench_served ran out of users") from None
            try:
                latency = login(base, email)
            except (AssertionError, requests.RequestException):
                failed = 1
            else:
                failed = 0
            if into is not None:
                with lock:
                    into["failed"] += failed
                    if not failed:
                        into["done"] += 1
                        into["latencies"].append(latency)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as threads:
        for finished in [threads.submit(client) for _ in range(clients)]:
            finished.result()
    if into is not None:
        into["seconds"] += time.perf_counter() - started


@contextmanager
def far_side(kodmobi_port: int, delay: float) -> Iterator[tuple[str, int]]:
    """In a process of its own (its threads apart from the clients'): the
    delay proxy in front of kod.mobi and the SMTP server allauth mails to,
    each ``delay`` away. Yields the proxy's URL and the SMTP port."""
    parent, child = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_serve_far_side, args=(kodmobi_port, delay, child), daemon=True
    )
    process.start()
    try:
        yield parent.recv()
    finally:
        process.terminate()
        process.join()


def _serve_far_side(kodmobi_port: int, delay: float, pipe: Any) -> None:
    from benchmarks.delay import DelayProxy
    from benchmarks.mail import smtp_server

    with DelayProxy(kodmobi_port, delay) as proxy, smtp_server(delay) as smtp:
        pipe.send((proxy.url, smtp.port))
        threading.Event().wait()


if __name__ == "__main__":
    main()
