"""``make bench``: a full passwordless login, django-kodmobi against the floor.

A login is start → code → verify → a logged-in Django session, against a
sandbox served on loopback (real HTTP, as kod.mobi would be). Each round
runs every variant on fresh users, in turn, so the machine's noise falls on
all of them alike; the ratios are medians of per-round ratios (floor time /
variant time: 1.0 is as fast as the floor, more is faster).

Variants: ``floor`` (benchmarks/floor.py: three kod.mobi calls on one
``requests.Session`` and ``auth.login``) and ``services`` (start_login,
verify_code, log_in); ``floor_views`` and ``api`` (the same through Django's
test client, full middleware: minimal JSON views against the REST API).
Users log in as returning users (a verified contact each), rate limits on
and counted (on Redis with CACHE_URL).

Each database runs in its own process (settings are per process). The last
line printed is one JSON object.

    .venv/bin/python -m benchmarks.bench_compare            # or: make bench
    BENCH_QUICK=1 .venv/bin/python -m benchmarks.bench_compare
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import test_databases

POSTGRES = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "CACHE_URL": "rediscache://127.0.0.1:6379/1",
}
VARIANTS = ("floor", "services", "floor_views", "api")


_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def _outside_blocks(verbs: list[str]) -> list[str]:
    """The statements run outside BEGIN ... COMMIT (each its own commit)."""
    outside, depth = [], 0
    for verb in verbs:
        if verb == "BEGIN":
            depth += 1
        elif verb in {"COMMIT", "ROLLBACK"}:
            depth -= 1
        elif depth == 0:
            outside.append(verb)
    return outside


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(rounds: int, logins: int) -> dict[str, Any]:
    """Run in a process whose settings name the database to measure, inside
    :func:`~benchmarks.common.test_databases`."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from benchmarks import floor as floor_module
    from django_kodmobi import breaker, provider
    from django_kodmobi.conf import DEFAULTS
    from django_kodmobi.models import Contact
    from django_kodmobi.sandbox import SandboxConfig, SandboxEngine, SandboxServer
    from django_kodmobi.services import start_login, verify_and_log_in
    from tests.helpers import session_request

    engine = SandboxEngine(SandboxConfig(echo=False))
    server = SandboxServer(engine).start()
    kodmobi = {
        "API_URL": server.url,
        "PUBLIC_KEY": engine.config.public_key,
        "SECRET_KEY": engine.config.secret_key,
        "MAX_RETRIES": 0,
        # On, and high enough for thousands of logins from one address.
        "RATE_LIMITS": dict.fromkeys(DEFAULTS["RATE_LIMITS"], "1000000/h"),
    }
    overrides = override_settings(
        KODMOBI=kodmobi, ROOT_URLCONF="benchmarks.urls", DEBUG=False
    )
    overrides.enable()
    provider.reset()
    breaker.reset()
    cache.clear()
    floor = floor_module.Floor(
        server.url, engine.config.public_key, engine.config.secret_key
    )
    floor_module.floor = floor
    user_model = get_user_model()
    serial = iter(range(10**9))

    def new_user() -> str:
        email = f"user{next(serial)}@example.com"
        user = user_model.objects.create_user(email, email)
        Contact.objects.create(
            user=user, kind="email", value=email, verified_at="2026-01-01T00:00Z"
        )
        return email

    def code_for(email: str) -> str:
        code = engine.last_code(email)
        assert code is not None
        return code

    def login_floor(email: str) -> None:
        session_id = floor.start(email)
        floor.verify(session_request(), session_id, code_for(email))

    def login_services(email: str) -> None:
        flow = start_login(email)
        verify_and_log_in(
            session_request(), flow.session.pk, flow.token, code_for(email)
        )

    def through_views(prefix: str, handle: str) -> Callable[[str], None]:
        """A login by JSON POSTs to ``prefix``start/ and verify/, the flow's
        handle (``handle`` in start's reply) carried from one to the other."""

        def login(email: str) -> None:
            client = Client()
            started = client.post(
                f"{prefix}start/",
                {"identifier": email},
                content_type="application/json",
            )
            reply = client.post(
                f"{prefix}verify/",
                {handle: started.json()[handle], "code": code_for(email)},
                content_type="application/json",
            )
            assert reply.status_code == 200, reply.content

        return login

    logins_by_variant: dict[str, Callable[[str], None]] = {
        "floor": login_floor,
        "services": login_services,
        "floor_views": through_views("/floor/", "session_id"),
        "api": through_views("/api/auth/", "flow"),
    }
    try:
        statements: dict[str, int] = {}
        own_statements: dict[str, int] = {}
        transactions: dict[str, int] = {}
        upstream: dict[str, float] = {}
        for name, login in logins_by_variant.items():
            email = new_user()
            calls_before = sum(engine.calls.values())
            with CaptureQueriesContext(connection) as captured:
                login(email)
            verbs = [q["sql"].split(None, 1)[0].upper() for q in captured]
            run = [v not in _TRANSACTION_CONTROL for v in verbs]
            statements[name] = sum(run)
            # The session engine's own work (django_session) is the same for
            # every variant and depends on SESSION_ENGINE, not on the login.
            own_statements[name] = sum(
                ran and '"django_session"' not in query["sql"]
                for ran, query in zip(run, captured, strict=True)
            )
            transactions[name] = verbs.count("BEGIN") + sum(
                v in {"INSERT", "UPDATE", "DELETE"} for v in _outside_blocks(verbs)
            )
            upstream[name] = sum(engine.calls.values()) - calls_before
        per_login: dict[str, list[float]] = {name: [] for name in VARIANTS}
        round_totals: list[dict[str, float]] = []
        for _ in range(rounds):
            totals = {}
            for name, login in logins_by_variant.items():
                emails = [new_user() for _ in range(logins)]
                round_started = time.perf_counter()
                for email in emails:
                    started = time.perf_counter()
                    login(email)
                    per_login[name].append(time.perf_counter() - started)
                totals[name] = time.perf_counter() - round_started
            round_totals.append(totals)

        def ratio(variant: str, floor_variant: str) -> float:
            return round(
                statistics.median(t[floor_variant] / t[variant] for t in round_totals),
                2,
            )

        return {
            "database": connection.vendor,
            "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
            "rounds": rounds,
            "logins_per_round": logins,
            "services_vs_floor": ratio("services", "floor"),
            "api_vs_floor": ratio("api", "floor_views"),
            "statements_per_login": own_statements["services"],
            "statements": own_statements,
            "statements_with_session_engine": statements,
            "commits": transactions,
            "upstream_calls_per_login": upstream,
            "ms": {
                name: {
                    "p50": round(_percentile(values, 0.5) * 1000, 2),
                    "p95": round(_percentile(values, 0.95) * 1000, 2),
                }
                for name, values in per_login.items()
            },
        }
    finally:
        overrides.disable()
        server.stop()


def _reachable(env: dict[str, str]) -> bool:
    import socket

    for port in (5432, 6379):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    quick = bool(os.environ.get("BENCH_QUICK"))
    parser.add_argument("--rounds", type=int, default=3 if quick else 7)
    parser.add_argument("--logins", type=int, default=20 if quick else 100)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        with test_databases():
            print(json.dumps(measure(args.rounds, args.logins)))
        return
    results: dict[str, Any] = {}
    for name, extra in (("sqlite", {}), ("postgresql", POSTGRES)):
        if extra and not _reachable(extra):
            print(f"{name}: not reachable, skipped", file=sys.stderr)
            continue
        env = {k: v for k, v in os.environ.items() if k not in POSTGRES}
        command = [sys.executable, "-m", "benchmarks.bench_compare", "--measure"]
        command += ["--rounds", str(args.rounds), "--logins", str(args.logins)]
        done = subprocess.run(  # noqa: S603 - this very script
            command, env={**env, **extra}, capture_output=True, text=True, check=True
        )
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"{'':12} {'services/floor':>15} {'api/floor views':>16}"
        f" {'statements':>11} {'commits':>8}"
    )
    for name, result in results.items():
        print(
            f"{name:12} {result['services_vs_floor']:>14}x {result['api_vs_floor']:>15}x"
            f" {result['statements_per_login']:>11} {result['commits']['services']:>8}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
