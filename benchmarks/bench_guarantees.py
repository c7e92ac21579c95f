"""What each protection of a login costs: a price list against the floor.

A full login through the services (start_login, verify_and_log_in) is timed
against the floor (benchmarks/floor.py), as in ``make bench``, and again with
one protection taken out at a time, then with all of them out:

- ``audit events``: the OTPEvent rows (the audit timeline);
- ``rate limits``: every ``check_rate``/``check_rates``;
- ``failure streaks``: the streak lookups before a send and a code check;
- ``circuit breaker``: the shared breaker state read around each kod.mobi call.

What is left when all four are out is the flow itself: its row written
before kod.mobi is called, the attempt reserved in its own commit, and the
consume that lets exactly one caller log in. The protections are patched
out for the measurement only; no setting turns them off.

Ratios are medians of per-round ratios (floor time / variant time), rounds
interleaved. Statements are counted for one login of each variant, without
transaction control and without the session engine's. Runs on the test
settings' database and cache: SQLite in memory by default, or
``DATABASE_URL`` and ``CACHE_URL``. The last line printed is one JSON object.

    .venv/bin/python -m benchmarks.bench_guarantees
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from typing import Any
from unittest import mock

from benchmarks.common import returning_user, sandbox_site, setup_django, test_databases


def _replacements() -> dict[str, list[tuple[Any, str, Callable[..., Any]]]]:
    """Each protection, as what takes it out: (owner, attribute, stand-in)."""
    from django.db.models import BooleanField, Value

    from django_kodmobi import breaker, guards, limits
    from django_kodmobi.models import OTPEvent, OTPSessionQuerySet

    def no_streak(*_: object) -> bool:
        return False  # "no streak exists", as for a person with no failures

    def loaded_with_no_streak(queryset: OTPSessionQuerySet) -> OTPSessionQuerySet:
        return queryset.annotate(streak_free=Value(True, BooleanField()))

    def no_limit(*_: object) -> None:
        return None

    def no_events(events: Any) -> Any:
        return events

    return {
        "audit events": [(OTPEvent.objects, "bulk_create", no_events)],
        "rate limits": [
            (limits, "check_rate", no_limit),
            (limits, "check_rates", no_limit),
        ],
        "failure streaks": [
            (guards, "check_streak", no_streak),
            (OTPSessionQuerySet, "with_streak_hint", loaded_with_no_streak),
        ],
        "circuit breaker": [(breaker, "guard", nullcontext)],
    }


@contextmanager
def _without(protections: tuple[str, ...]) -> Iterator[list[mock.MagicMock]]:
    """Take ``protections`` out; yield the stand-ins, which record their calls
    (a stand-in never called was not on the login's path: the figure would
    be a lie)."""
    with ExitStack() as stack:
        stand_ins = [
            stack.enter_context(
                mock.patch.object(
                    owner, attribute, side_effect=replacement, autospec=True
                )
            )
            for name, replaced in _replacements().items()
            if name in protections
            for owner, attribute, replacement in replaced
        ]
        yield stand_ins


def measure(rounds: int, logins: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from benchmarks.floor import Floor
    from django_kodmobi.services import start_login, verify_and_log_in
    from tests.helpers import session_request

    single = ("audit events", "rate limits", "failure streaks", "circuit breaker")
    variants: dict[str, tuple[str, ...]] = {"all": ()}
    variants |= {f"without {name}": (name,) for name in single}
    variants["without all four"] = single
    serial = iter(range(10**9))

    with sandbox_site() as (engine, server):
        floor = Floor(server.url, engine.config.public_key, engine.config.secret_key)

        def login_floor(email: str) -> None:
            session_id = floor.start(email)
            floor.verify(session_request(), session_id, engine.last_code(email) or "")

        def login_services(email: str) -> None:
            flow = start_login(email)
            code = engine.last_code(email) or ""
            verify_and_log_in(session_request(), flow.session.pk, flow.token, code)

        def timed(login: Callable[[str], None]) -> float:
            emails = [returning_user(next(serial)) for _ in range(logins)]
            started = time.perf_counter()
            for email in emails:
                login(email)
            return time.perf_counter() - started

        statements = {}
        for name, left_out in variants.items():
            email = returning_user(next(serial))
            with _without(left_out) as stand_ins:
                with CaptureQueriesContext(connection) as captured:
                    login_services(email)
                missed = [s for s in stand_ins if not s.called]
                assert not missed, f"not on the login's path: {missed}"
            statements[name] = sum(
                query["sql"].split(None, 1)[0].upper()
                not in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"}
                and '"django_session"' not in query["sql"]
                for query in captured
            )
        ratios: dict[str, list[float]] = {name: [] for name in variants}
        milliseconds: dict[str, list[float]] = {"floor": []}
        milliseconds |= {name: [] for name in variants}
        for round_number in range(rounds + 1):  # the first round warms up
            floor_time = timed(login_floor)
            times = {}
            for name, left_out in variants.items():
                with _without(left_out):
                    times[name] = timed(login_services)
            if round_number:
                milliseconds["floor"].append(floor_time / logins * 1000)
                for name, variant_time in times.items():
                    ratios[name].append(floor_time / variant_time)
                    milliseconds[name].append(variant_time / logins * 1000)
    return {
        "database": connection.vendor,
        "rounds": rounds,
        "logins_per_round": logins,
        "vs_floor": {
            name: round(statistics.median(values), 2) for name, values in ratios.items()
        },
        "ms_per_login": {
            name: round(statistics.median(values), 2)
            for name, values in milliseconds.items()
        },
        "statements_per_login": statements,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--logins", type=int, default=60)
    args = parser.parse_args()
    setup_django()
    with test_databases():
        result = measure(args.rounds, args.logins)
    print(f"{'services login':26} {'vs floor':>9} {'ms':>7} {'statements':>11}")
    for name, ratio in result["vs_floor"].items():
        print(
            f"{name:26} {ratio:>8}x {result['ms_per_login'][name]:>7}"
            f" {result['statements_per_login'][name]:>11}"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
