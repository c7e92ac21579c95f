"""What each protection of a login costs: a price list against the floor.

A full login through the services (start_login, verify_and_log_in) is timed
against the floor (benchmarks/floor.py), as in ``make bench``, and again with
one protection taken out at a time, then with all of them out:

- ``audit events``: the OTPEvent rows (the audit timeline);
- ``rate limits``: every ``check_rate``/``check_rates``;
- ``failure streaks``: the streak lookups before a send (a condition of the
  start's INSERT) and a code check;
- ``circuit breaker``: the shared breaker state read around each kod.mobi call.

What is left when all four are out is the flow itself: its row written
before kod.mobi is called, the attempt reserved in its own commit, and the
consume that lets exactly one caller log in. The protections are patched
out for the measurement only; no setting turns them off.

Last, ``all, as hand-written SQL`` (:class:`Replay`): every statement of a
login with all protections on, recorded once and run again as raw SQL in
the same transactions, with the same kod.mobi calls (and none of the cache
commands of the limits and the breaker): what writing the login by hand,
statement for statement, could at most win.

Ratios are medians of per-round ratios (floor time / variant time), rounds
interleaved. Statements are counted for one login of each variant, without
transaction control and without the session engine's. Runs on the test
settings' database and cache: SQLite in memory by default, or
``DATABASE_URL`` and ``CACHE_URL``. kod.mobi is the sandbox on loopback;
``--kodmobi-ms 30`` makes each of its replies 30 ms later, as a kod.mobi
across the internet would be. The last line printed is one JSON object.

    .venv/bin/python -m benchmarks.bench_guarantees
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any
from unittest import mock

from ulid import ULID

from benchmarks.common import (
    TRANSACTION_CONTROL,
    own_statements,
    returning_user,
    sandbox_site,
    setup_django,
    sql_verb,
    test_databases,
)


def _replacements() -> dict[str, list[tuple[Any, str, Callable[..., Any]]]]:
    """Each protection, as what takes it out: (owner, attribute, stand-in)."""
    from django.db.models import BooleanField, Value

    from django_kodmobi import breaker, guards, limits, statements
    from django_kodmobi.compiled import CompiledLookup
    from django_kodmobi.models import OTPEvent, OTPSession
    from django_kodmobi.services import flows

    def no_streak(*_: object) -> tuple[str, list[Any]]:
        return "1 = 0", []  # the start's INSERT: "no streak pauses anyone"

    # Compiled once, as the services compile theirs.
    flow_with_no_streak = CompiledLookup(
        lambda: (
            OTPSession.objects.annotate(streak_free=Value(True, BooleanField()))
            .select_related("verified_contact__user")
            .order_by()
        )
    )

    def no_limit(*_: object) -> None:
        return None

    def no_breaker(**_: object) -> nullcontext[None]:
        return nullcontext()

    # The events are written with the flow's own writes (statements): those
    # go on without them.
    real_write_together, real_consume = statements.write_together, statements.consume

    def written_without_events(using: str, parts: Any) -> None:
        table = OTPEvent._meta.db_table
        real_write_together(using, [part for part in parts if table not in part[0]])

    def consumed_without_events(*args: Any, **kwargs: Any) -> bool:
        return real_consume(*args, **{**kwargs, "events": ()})

    return {
        "audit events": [
            (statements, "write_together", written_without_events),
            (statements, "consume", consumed_without_events),
        ],
        "rate limits": [
            (limits, "check_rate", no_limit),
            (limits, "check_rates", no_limit),
        ],
        "failure streaks": [
            (guards, "streak_refusal", no_streak),
            (flows._flow_by_id, "get", flow_with_no_streak.get),
        ],
        "circuit breaker": [(breaker, "guard", no_breaker)],
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


@dataclass(frozen=True)
class Step:
    """One step of a recorded login: a statement, a kod.mobi call (``call``
    names the operation), or ``auth.login``."""

    kind: str  # "sql", "call" or "login"
    in_transaction: bool
    sql: str = ""
    params: tuple[Any, ...] | dict[str, Any] = ()
    operation: str = ""


class Replay:
    """A login's own statements, recorded once, run as hand-written SQL.

    The same statements in the same transactions, the same kod.mobi calls
    and ``auth.login``, for another person, with none of the ORM's work and
    none of django-kodmobi's Python: the most that writing the login by hand
    could win while keeping every statement. The recorded flow id, kod.mobi
    session, email and user id are swapped for the new login's; the user id
    is read from the contact SELECT, as a hand-written login would.
    """

    def __init__(self, steps: list[Step], floor: Any):
        from django.db import connection

        self.connection = connection
        #: The recorded login's values (flow, kodmobi, email, user) to swap.
        self.recorded: dict[str, Any] = {}
        self.floor = floor
        # Consecutive steps inside a transaction run in one.
        self.blocks: list[tuple[bool, list[Step]]] = []
        for step in steps:
            if self.blocks and step.in_transaction and self.blocks[-1][0]:
                self.blocks[-1][1].append(step)
            else:
                self.blocks.append((step.in_transaction, [step]))

    @classmethod
    def record(cls, login: Callable[[], Any], floor: Any) -> Replay:
        """Record ``login``'s own steps (not the session engine's, nor those
        of ``auth.login``, which the replay calls itself)."""
        from django.contrib import auth
        from django.db import connection

        from django_kodmobi.client.client import KodMobiClient

        steps: list[Step] = []
        inside_auth_login: list[bool] = []

        def statement(execute: Any, sql: str, params: Any, *rest: Any) -> Any:
            if not (
                inside_auth_login
                or sql_verb(sql) in TRANSACTION_CONTROL
                or '"django_session"' in sql
            ):
                if not isinstance(params, dict):
                    params = tuple(params or ())
                steps.append(Step("sql", connection.in_atomic_block, sql, params))
            return execute(sql, params, *rest)

        def call(client: Any, operation: Any, *args: Any, **kwargs: Any) -> Any:
            in_block = connection.in_atomic_block
            steps.append(Step("call", in_block, operation=operation.value))
            return real_call(client, operation, *args, **kwargs)

        def log_in(*args: Any, **kwargs: Any) -> None:
            steps.append(Step("login", connection.in_atomic_block))
            inside_auth_login.append(True)
            try:
                real_login(*args, **kwargs)
            finally:
                inside_auth_login.pop()

        real_call, real_login = KodMobiClient._call, auth.login
        with ExitStack() as stack:
            stack.enter_context(connection.execute_wrapper(statement))
            stack.enter_context(mock.patch.object(KodMobiClient, "_call", call))
            stack.enter_context(mock.patch.object(auth, "login", log_in))
            login()
        return cls(steps, floor)

    @classmethod
    def of(cls, login: Callable[[str], Any], email: str, floor: Any) -> Replay:
        """Record ``login`` (a services login, returning its flow) of
        ``email``'s, and the values a replay swaps. Users with ids above any
        count a statement carries (attempts, caps) must exist first, so that
        the replay swaps only the user's."""
        flows = []
        replay = cls.record(lambda: flows.append(login(email)), floor)
        flow = flows[0]
        flow.refresh_from_db()
        replay.recorded.update(
            flow=flow.pk,
            email=email,
            kodmobi=flow.kodmobi_session_id,
            user=flow.user_id,
        )
        return replay

    def login(self, email: str, code_for: Callable[[str], str]) -> None:
        from django.db import transaction

        from tests.helpers import session_request

        values = {"flow": str(ULID()), "email": email}
        request = session_request()
        for in_transaction, steps in self.blocks:
            with transaction.atomic() if in_transaction else nullcontext():
                for step in steps:
                    self._run(step, values, request, code_for)

    def _run(
        self,
        step: Step,
        values: dict[str, Any],
        request: Any,
        code_for: Callable[[str], str],
    ) -> None:
        from django.contrib import auth
        from django.contrib.auth import get_user_model

        from benchmarks.floor import BACKEND

        if step.kind == "sql":
            swap = {
                self.recorded[name]: value
                for name, value in values.items()
                if name in self.recorded
            }
            params = _swapped(step.params, swap)
            with self.connection.cursor() as cursor:
                cursor.execute(step.sql, params)
                columns = [c[0] for c in cursor.description or ()]
                row = cursor.fetchone() if columns else None
            # The contact's user_id (a flow's own, joined before it, is null).
            named = zip(columns, row or (), strict=False)
            users = [v for column, v in named if column == "user_id" and v]
            if users:
                values["user"] = users[-1]
        elif step.kind == "login":
            user = get_user_model()(pk=values["user"], email=values["email"])
            auth.login(request, user, backend=BACKEND)
        elif step.operation == "create":
            values["kodmobi"] = self.floor.start(values["email"])
        elif step.operation == "check":
            code = code_for(values["email"])
            values["token"] = self.floor.check(values["kodmobi"], code)
        elif step.operation == "verify":
            self.floor.confirm(values["token"])
        else:
            raise AssertionError(f"a kod.mobi call the replay cannot make: {step}")


def _swapped(param: Any, swap: dict[Any, Any]) -> Any:
    """``param`` with the recorded login's values swapped, in lists (on
    PostgreSQL a multi-row INSERT passes one array per column), tuples and
    the named parameters of hand-written statements too."""
    if isinstance(param, (list, tuple)):
        return [_swapped(item, swap) for item in param]
    if isinstance(param, dict):
        return {name: _swapped(value, swap) for name, value in param.items()}
    if isinstance(param, (str, int)):
        return swap.get(param, param)
    return param


def _check_replay(replay: Replay, email: str, code_for: Callable[[str], str]) -> int:
    """Replay one login and check it left what the services' leave (a
    consumed flow for the person's user, its four events, one attempt spent
    on its code) and only there. Return its statements, counted as the
    services' are."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_kodmobi.models import KodSession, OTPSession

    with CaptureQueriesContext(connection) as captured:
        replay.login(email, code_for)
    flow = OTPSession.objects.get(identifier=email)
    assert flow.status == "consumed", flow.status
    assert flow.user_id == get_user_model().objects.get(email=email).pk
    assert flow.events.count() == 4
    assert KodSession.objects.get(pk=flow.kodmobi_session_id).attempts == 1
    # and nothing of it landed on the recorded login's rows
    recorded = OTPSession.objects.get(pk=replay.recorded["flow"])
    assert recorded.events.count() == 4
    assert KodSession.objects.get(pk=recorded.kodmobi_session_id).attempts == 1
    return own_statements(captured)


def measure(rounds: int, logins: int, kodmobi_ms: float = 0) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from benchmarks.floor import Floor
    from django_kodmobi.sandbox import Fault, FaultKind
    from django_kodmobi.services import start_login, verify_and_log_in
    from tests.helpers import session_request

    single = ("audit events", "rate limits", "failure streaks", "circuit breaker")
    variants: dict[str, tuple[str, ...]] = {"all": ()}
    variants |= {f"without {name}": (name,) for name in single}
    variants["without all four"] = single
    serial = iter(range(10**9))
    # User ids above any count a statement carries (attempts, caps), so the
    # replay swaps only the user's.
    while get_user_model().objects.count() < 100:
        returning_user(next(serial))

    with sandbox_site() as (engine, server):
        if kodmobi_ms:  # every kod.mobi reply that much later, for everyone
            engine.faults.add(Fault(FaultKind.LATENCY, latency=kodmobi_ms / 1000))
        floor = Floor(server.url, engine.config.public_key, engine.config.secret_key)

        def code_for(email: str) -> str:
            return engine.last_code(email) or ""

        def login_floor(email: str) -> None:
            session_id = floor.start(email)
            floor.verify(session_request(), session_id, code_for(email))

        def login_services(email: str) -> Any:
            flow = start_login(email)
            code = code_for(email)
            verify_and_log_in(session_request(), flow.session.pk, flow.token, code)
            return flow.session

        def timed(login: Callable[[str], Any]) -> float:
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
            statements[name] = own_statements(captured)

        replay = Replay.of(login_services, returning_user(next(serial)), floor)
        hand_written = "all, as hand-written SQL"
        statements[hand_written] = _check_replay(
            replay, returning_user(next(serial)), code_for
        )

        ratios: dict[str, list[float]] = {name: [] for name in statements}
        milliseconds: dict[str, list[float]] = {"floor": []}
        milliseconds |= {name: [] for name in statements}
        for round_number in range(rounds + 1):  # the first round warms up
            floor_time = timed(login_floor)
            times = {}
            for name, left_out in variants.items():
                with _without(left_out):
                    times[name] = timed(login_services)
            times[hand_written] = timed(lambda email: replay.login(email, code_for))
            if round_number:
                milliseconds["floor"].append(floor_time / logins * 1000)
                for name, variant_time in times.items():
                    ratios[name].append(floor_time / variant_time)
                    milliseconds[name].append(variant_time / logins * 1000)
    return {
        "database": connection.vendor,
        "kodmobi_ms_added": kodmobi_ms,
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
    parser.add_argument(
        "--kodmobi-ms",
        type=float,
        default=0,
        help="added to each kod.mobi reply (0: loopback, as make bench)",
    )
    args = parser.parse_args()
    setup_django()
    with test_databases():
        result = measure(args.rounds, args.logins, args.kodmobi_ms)
    print(f"{'services login':26} {'vs floor':>9} {'ms':>7} {'statements':>11}")
    for name, ratio in result["vs_floor"].items():
        print(
            f"{name:26} {ratio:>8}x {result['ms_per_login'][name]:>7}"
            f" {result['statements_per_login'][name]:>11}"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
