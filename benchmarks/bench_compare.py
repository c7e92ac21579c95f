"""``make bench``: a full passwordless login, django-kodmobi against the floor.

A login is start → code → verify → a logged-in Django session, against a
sandbox served on loopback (real HTTP, as kod.mobi would be). Each round
runs every variant on fresh users, in turn, so the machine's noise falls on
all of them alike; the ratios are medians of per-round ratios (floor time /
variant time: 1.0 is as fast as the floor, more is faster).

Variants: ``floor`` (benchmarks/floor.py: three kod.mobi calls on one
``requests.Session`` and ``auth.login``) and ``services`` (start_login,
verify_and_log_in); ``floor_views`` and ``api`` (the same through Django's
test client, full middleware: minimal JSON views against the REST API);
``allauth`` (django-allauth's login by code through its headless API, when
allauth is installed: ``pip install -e '.[bench]'``, as ``make bench``
does), its code mailed to Django's test outbox in memory, and
``allauth_smtp``, the same with its code mailed to an SMTP server on
loopback (``benchmarks/mail.py``), as kod.mobi is called on loopback.
Users log in as returning users (a verified contact each, a verified
EmailAddress for allauth), rate limits on and counted (on Redis with
CACHE_URL).

Statements are counted without transaction control and without the session
engine's own (``django_session``: the same for every variant, and none with
signed-cookie sessions); ``statements_with_session_engine`` has them all.
``ms_spent_per_login`` splits a login's time into the database's, the
cache's (Redis), kod.mobi's and Python's, in a pass of its own after the
timed rounds.

``by_hand`` is a services login's statements recorded once and replayed as
raw SQL in the same transactions, with the same kod.mobi calls
(``benchmarks.bench_guarantees.Replay``): ``services_vs_by_hand`` is what
the ORM and the app's Python cost over writing the login by hand.
``services_vs_floor_at_30ms`` runs the services and the floor again with
kod.mobi behind a delay proxy (``benchmarks/delay.py``), each call 30 ms
later, as a person waits for them. ``round_trips_per_login`` counts one
login's messages to PostgreSQL on the wire. ``served_rate_vs_allauth`` and
``served_p99_vs_allauth`` come from ``benchmarks/bench_served.py``
(gunicorn under 32 clients), run after each database's process.

Each database runs in its own process (settings are per process). Before
the JSON, a table gives each target and whether it holds (``!`` where it
does not). The last line printed is one JSON object.

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
from contextlib import ExitStack
from typing import Any

from benchmarks.common import (
    TRANSACTION_CONTROL,
    own_statements,
    percentile,
    returning_user,
    sandbox_site,
    sql_verb,
    test_databases,
)

POSTGRES = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "CACHE_URL": "rediscache://127.0.0.1:6379/1",
}


def _outside_blocks(statements: list[str]) -> list[str]:
    """The statements run outside BEGIN ... COMMIT (each its own commit)."""
    outside, depth = [], 0
    for sql in statements:
        verb = sql_verb(sql)
        if verb == "BEGIN":
            depth += 1
        elif verb in {"COMMIT", "ROLLBACK"}:
            depth -= 1
        elif depth == 0:
            outside.append(sql)
    return outside


def measure(rounds: int, logins: int) -> dict[str, Any]:
    """Run in a process whose settings name the database to measure, inside
    :func:`~benchmarks.common.test_databases`."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from benchmarks import floor as floor_module
    from benchmarks.bench_guarantees import Replay
    from django_kodmobi.models import Contact, OTPSession
    from django_kodmobi.services import start_login, verify_and_log_in
    from tests.helpers import session_request, writes

    allauth = getattr(settings, "ALLAUTH", False)
    if allauth:
        from allauth.account.models import EmailAddress
        from django.core import mail

        from benchmarks.allauth_adapter import CodeKeepingAdapter
        from benchmarks.mail import delivering_to, smtp_server

    site = ExitStack()
    engine, server = site.enter_context(sandbox_site(ROOT_URLCONF="benchmarks.urls"))
    if allauth:
        site.enter_context(
            override_settings(EMAIL_BACKEND="benchmarks.mail.BenchEmailBackend")
        )
        smtp = site.enter_context(smtp_server())
    floor = floor_module.Floor(
        server.url, engine.config.public_key, engine.config.secret_key
    )
    floor_module.floor = floor
    serial = iter(range(10**9))

    def new_user() -> str:
        email = returning_user(next(serial))
        if allauth:  # allauth's own record of a verified address
            EmailAddress.objects.create(
                user_id=Contact.objects.get(value=email).user_id,
                email=email,
                verified=True,
                primary=True,
            )
        return email

    def code_for(email: str) -> str:
        code = engine.last_code(email)
        assert code is not None
        return code

    def login_floor(email: str) -> None:
        session_id = floor.start(email)
        floor.verify(session_request(), session_id, code_for(email))

    def login_services(email: str) -> OTPSession:
        flow = start_login(email)
        verify_and_log_in(
            session_request(), flow.session.pk, flow.token, code_for(email)
        )
        return flow.session

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

    def login_allauth(email: str) -> None:
        """allauth's login by code through its headless API (browser client)."""
        client = Client()
        requested = client.post(
            "/_allauth/browser/v1/auth/code/request",
            {"email": email},
            content_type="application/json",
        )
        assert requested.status_code == 401, requested.content  # a code is pending
        reply = client.post(
            "/_allauth/browser/v1/auth/code/confirm",
            {"code": CodeKeepingAdapter.last_code},
            content_type="application/json",
        )
        assert reply.status_code == 200, reply.content
        mail.outbox.clear()

    def login_allauth_by_smtp(email: str) -> None:
        """The same, its mail delivered to an SMTP server on loopback."""
        delivered = smtp.received
        with delivering_to(smtp):
            login_allauth(email)
        assert smtp.received == delivered + 1, "the code was not mailed"

    # User ids above any count a statement carries, for the replay.
    while get_user_model().objects.count() < 100:
        new_user()
    replay = Replay.of(login_services, new_user(), floor)
    logins_by_variant: dict[str, Callable[[str], Any]] = {
        "floor": login_floor,
        "services": login_services,
        "by_hand": lambda email: replay.login(email, code_for),
        "floor_views": through_views("/floor/", "session_id"),
        "api": through_views("/api/auth/", "flow"),
    }
    if allauth:
        logins_by_variant["allauth"] = login_allauth
        logins_by_variant["allauth_smtp"] = login_allauth_by_smtp
    try:
        statements: dict[str, int] = {}
        # Connections to kod.mobi each variant opened over all its logins
        # (the first included): a pooled client keeps one alive.
        connections = dict.fromkeys(logins_by_variant, 0)
        own_counts: dict[str, int] = {}
        transactions: dict[str, int] = {}
        upstream: dict[str, float] = {}
        for name, login in logins_by_variant.items():
            email = new_user()
            calls_before = sum(engine.calls.values())
            connected_before = server.connections
            with CaptureQueriesContext(connection) as captured:
                login(email)
            connections[name] += server.connections - connected_before
            verbs = [sql_verb(query["sql"]) for query in captured]
            statements[name] = sum(v not in TRANSACTION_CONTROL for v in verbs)
            own_counts[name] = own_statements(captured)
            transactions[name] = verbs.count("BEGIN") + sum(
                map(writes, _outside_blocks([query["sql"] for query in captured]))
            )
            upstream[name] = sum(engine.calls.values()) - calls_before
        per_login: dict[str, list[float]] = {name: [] for name in logins_by_variant}
        round_totals: list[dict[str, float]] = []
        for _ in range(rounds):
            totals = {}
            for name, login in logins_by_variant.items():
                emails = [new_user() for _ in range(logins)]
                connected_before = server.connections
                round_started = time.perf_counter()
                for email in emails:
                    started = time.perf_counter()
                    login(email)
                    per_login[name].append(time.perf_counter() - started)
                totals[name] = time.perf_counter() - round_started
                connections[name] += server.connections - connected_before
            round_totals.append(totals)

        time_spent = _time_spent(logins_by_variant, new_user, logins)
        far_away = _with_kodmobi_away(
            engine, server, new_user, rounds, max(5, logins // 4)
        )
        round_trips = _round_trips(logins_by_variant, new_user)

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
            "api_vs_allauth": ratio("api", "allauth") if allauth else None,
            "api_vs_allauth_smtp": ratio("api", "allauth_smtp") if allauth else None,
            "services_vs_by_hand": ratio("services", "by_hand"),
            "services_vs_floor_at_30ms": far_away["services_vs_floor"],
            "statements_per_login": own_counts["services"],
            "round_trips_per_login": round_trips,
            "at_30ms": far_away,
            "ms_spent_per_login": time_spent,
            "statements": own_counts,
            "statements_with_session_engine": statements,
            "commits": transactions,
            "upstream_calls_per_login": upstream,
            "upstream_connections": {
                name: f"{opened} over {rounds * logins + 1} logins"
                for name, opened in connections.items()
            },
            "ms": {
                name: {
                    "p50": round(percentile(values, 0.5) * 1000, 2),
                    "p95": round(percentile(values, 0.95) * 1000, 2),
                }
                for name, values in per_login.items()
            },
        }
    finally:
        site.close()


def _time_spent(
    logins_by_variant: dict[str, Callable[[str], None]],
    new_user: Callable[[], str],
    logins: int,
) -> dict[str, dict[str, float]]:
    """Where a login's time goes, per variant, in milliseconds per login over
    ``logins`` logins each: ``total``; ``database`` (statements and commits
    sent, run and read back by the driver); ``cache`` (commands to Redis,
    when the cache is Redis); ``kodmobi`` (HTTP calls to the sandbox, sent
    and answered, the sandbox's own work included); ``mail`` (allauth's code
    delivered by SMTP, the server's work included); and ``python``, the
    rest: the ORM building statements and the app deciding what they are.

    Measured apart from the timed rounds, so that the timers around each
    statement, command and call do not weigh on the ratios.
    """
    from unittest import mock

    from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
    from django.db import connection
    from requests.adapters import HTTPAdapter

    timed_parts = ("database", "cache", "kodmobi", "mail")
    spent = dict.fromkeys(timed_parts, 0.0)

    def timer(part: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - started

        return timed

    def in_database(execute: Any, *args: Any) -> Any:
        return timer("database", execute)(*args)

    result = {}
    with ExitStack() as timers:
        timers.enter_context(connection.execute_wrapper(in_database))
        # A transaction's COMMIT (a round trip, on PostgreSQL) is not a
        # statement executed: the driver's commit() sends it.
        for method in ("_commit", "_rollback"):
            patched = timer("database", getattr(connection, method))
            timers.enter_context(mock.patch.object(connection, method, patched))
        patched = timer("kodmobi", HTTPAdapter.send)
        timers.enter_context(mock.patch.object(HTTPAdapter, "send", patched))
        patched = timer("mail", SMTPBackend.send_messages)
        timers.enter_context(mock.patch.object(SMTPBackend, "send_messages", patched))
        try:
            from redis.connection import AbstractConnection as Redis
        except ImportError:  # no Redis client: no cache time to measure
            pass
        else:  # redis-py: a command is sent, then its reply read
            for method in ("send_packed_command", "read_response"):
                patched = timer("cache", getattr(Redis, method))
                timers.enter_context(mock.patch.object(Redis, method, patched))
        for name, login in logins_by_variant.items():
            emails = [new_user() for _ in range(logins)]
            spent.update(dict.fromkeys(timed_parts, 0.0))  # not the new users'
            started = time.perf_counter()
            for email in emails:
                login(email)
            total = time.perf_counter() - started
            split = {"total": total, **spent, "python": total - sum(spent.values())}
            result[name] = {
                part: round(t / logins * 1000, 2) for part, t in split.items()
            }
    return result


#: How far away kod.mobi is in ``services_vs_floor_at_30ms``: each call's
#: reply is this much later (a :class:`~benchmarks.delay.DelayProxy`).
KODMOBI_DISTANCE = 0.030


def _with_kodmobi_away(
    engine: Any, server: Any, new_user: Callable[[], str], rounds: int, logins: int
) -> dict[str, Any]:
    """The services against the floor with kod.mobi as far away as it really
    is: both call it through one delay proxy, ``KODMOBI_DISTANCE`` per call.
    A person waits for these logins; the ratio is the median of per-round
    ratios, rounds interleaved, the first a warm-up (new connections)."""
    from django.conf import settings
    from django.test.utils import override_settings

    from benchmarks.delay import DelayProxy
    from benchmarks.floor import Floor
    from django_kodmobi import provider
    from django_kodmobi.services import start_login, verify_and_log_in
    from tests.helpers import session_request

    port = int(server.url.rsplit(":", 1)[1])
    proxy = DelayProxy(port, KODMOBI_DISTANCE)
    kodmobi = {**settings.KODMOBI, "API_URL": proxy.url}
    with proxy, override_settings(KODMOBI=kodmobi):
        provider.reset()
        floor = Floor(proxy.url, engine.config.public_key, engine.config.secret_key)

        def login_floor(email: str) -> None:
            session_id = floor.start(email)
            floor.verify(session_request(), session_id, engine.last_code(email))

        def login_services(email: str) -> None:
            flow = start_login(email)
            code = engine.last_code(email)
            verify_and_log_in(session_request(), flow.session.pk, flow.token, code)

        variants = {"floor": login_floor, "services": login_services}
        round_totals: list[dict[str, float]] = []
        for _ in range(rounds + 1):
            totals = {}
            for name, login in variants.items():
                emails = [new_user() for _ in range(logins)]
                started = time.perf_counter()
                for email in emails:
                    login(email)
                totals[name] = time.perf_counter() - started
            round_totals.append(totals)
        provider.reset()
    timed = round_totals[1:]
    return {
        "kodmobi_ms_per_call": KODMOBI_DISTANCE * 1000,
        "logins_per_round": logins,
        "services_vs_floor": round(
            statistics.median(t["floor"] / t["services"] for t in timed), 2
        ),
        "ms_per_login": {
            name: round(statistics.median(t[name] for t in timed) / logins * 1000, 2)
            for name in variants
        },
    }


def _round_trips(
    logins_by_variant: dict[str, Callable[[str], Any]], new_user: Callable[[], str]
) -> dict[str, dict[str, int]] | None:
    """Messages one login of each variant sends PostgreSQL, as the server
    receives them (libpq's protocol trace): ``round_trips`` (a simple query
    or an extended one's Sync, each answered before the next goes), and
    ``commits``, those that make a write durable (a COMMIT, or a write
    outside a transaction). The session engine's are counted too: the
    server does their work all the same. None on SQLite, which is no server.
    """
    import tempfile

    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    result = {}
    for name, login in logins_by_variant.items():
        email = new_user()
        connection.ensure_connection()
        pgconn = connection.connection.pgconn
        with tempfile.TemporaryFile("w+") as trace:
            pgconn.trace(trace.fileno())
            try:
                login(email)
            finally:
                pgconn.untrace()
            trace.seek(0)
            messages = [line.rstrip("\n").split("\t") for line in trace]
        result[name] = {
            "round_trips": sum(
                m[1] == "F" and m[3] in {"Query", "Sync"} for m in messages
            ),
            "commits": _durable_commits(messages),
        }
    return result


_WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE")


def _durable_commits(messages: list[list[str]]) -> int:
    """Transactions that wrote, counted as the server ends them: a write
    completed (or a statement whose CTEs write), then the server idle again
    (ReadyForQuery ``I``: a COMMIT, or the end of an autocommit statement)."""
    commits, wrote = 0, False
    for _, side, _, kind, *rest in messages:
        text = rest[0].strip().strip('"') if rest else ""
        if side == "F" and kind == "Query" and text.upper().startswith("WITH"):
            wrote = wrote or any(f" {verb} " in text.upper() for verb in _WRITES)
        elif kind == "CommandComplete":
            words = text.split()  # "INSERT 0 1", "UPDATE 0", "COMMIT"...
            verb, rows = words[0], words[-1]
            if verb in _WRITES and rows != "0":
                wrote = True
            elif verb == "ROLLBACK":
                wrote = False
        elif kind == "ReadyForQuery" and text == "I":
            commits += wrote
            wrote = False
    return commits


def _served(env: dict[str, str], database: str) -> dict[str, Any]:
    """``benchmarks.bench_served`` on ``database``, in a process of its own
    (SQLite: a file of its own, which gunicorn's workers share)."""
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        if database == "sqlite":
            env = {**env, "BENCH_SQLITE_FILE": f"{directory}/served.sqlite3"}
        command = [sys.executable, "-m", "benchmarks.bench_served"]
        done = subprocess.run(  # noqa: S603 - our own benchmark
            command, env=env, capture_output=True, text=True, check=True
        )
    served = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "served_rate_vs_allauth": served.pop("served_rate_vs_allauth"),
        "served_p99_vs_allauth": served.pop("served_p99_vs_allauth"),
        "served": served,
    }


#: The issue's targets: each key of the last line, and the least (or, for
#: statements, the most) it may be.
TARGETS = {
    "services_vs_by_hand": (">=", 0.85),
    "services_vs_floor_at_30ms": (">=", 0.95),
    "api_vs_allauth_smtp": (">=", 1.0),
    "served_rate_vs_allauth": (">=", 1.0),
    "served_p99_vs_allauth": (">=", 1.0),
    "statements_per_login": ("<=", 12),
}


def _report(results: dict[str, Any]) -> None:
    """One line per target, each database's figure and whether it holds."""
    names = list(results)
    print(f"{'target':28} {'':9}" + "".join(f" {name:>11}" for name in names))
    for key, (sense, bound) in TARGETS.items():
        cells = ""
        for name in names:
            value = results[name].get(key)
            met = value is not None and (
                value >= bound if sense == ">=" else value <= bound
            )
            cells += f" {value!s:>9}{' ' if met else '!'} "
        print(f"{key:28} {sense} {bound!s:<6}{cells}")
    for name in names:
        trips = results[name].get("round_trips_per_login")
        if trips:
            api = trips["api"]
            print(
                f"{name}: one API login sends {api['round_trips']} round trips"
                f" and {api['commits']} durable commits (allauth:"
                f" {trips.get('allauth', {}).get('round_trips', '-')} and"
                f" {trips.get('allauth', {}).get('commits', '-')})"
            )


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
        env["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
        command = [sys.executable, "-m", "benchmarks.bench_compare", "--measure"]
        command += ["--rounds", str(args.rounds), "--logins", str(args.logins)]
        done = subprocess.run(  # noqa: S603 - this very script
            command, env={**env, **extra}, capture_output=True, text=True, check=True
        )
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        results[name] |= _served(env | extra, name)
    missing = [
        f"{name}: {key}"
        for name, result in results.items()
        for key in TARGETS
        if result.get(key) is None
    ]
    if missing:
        raise SystemExit(f"make bench measured nothing for {missing}")
    _report(results)
    print(
        f"{'':12} {'services/floor':>15} {'api/floor views':>16}"
        f" {'api/allauth':>12} {'(by SMTP)':>10} {'statements':>11} {'allauth':>8}"
    )
    for name, result in results.items():
        versus_allauth = result["api_vs_allauth"]
        versus_smtp = result["api_vs_allauth_smtp"]
        print(
            f"{name:12} {result['services_vs_floor']:>14}x {result['api_vs_floor']:>15}x"
            f" {f'{versus_allauth}x' if versus_allauth else '-':>12}"
            f" {f'{versus_smtp}x' if versus_smtp else '-':>10}"
            f" {result['statements_per_login']:>11}"
            f" {result['statements'].get('allauth', '-'):>8}"
        )
    print("ms per login: total = database + cache + kod.mobi calls + mail + Python")
    for name, result in results.items():
        for variant, spent in result["ms_spent_per_login"].items():
            print(
                f"{name:12} {variant:12} {spent['total']:6} = {spent['database']:5}"
                f" + {spent['cache']:5} + {spent['kodmobi']:5} + {spent['mail']:5}"
                f" + {spent['python']:5}"
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
