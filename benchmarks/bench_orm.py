"""What the ORM adds to each statement of a login, on this database.

Three of the login's statements are run as the services run them (through
the ORM), then as the very SQL and parameters the ORM produced, sent
through the same Django cursor, each inside a transaction as in a login's
commit. The difference is the ORM's own work per statement: building and
compiling the query (and, for the SELECT, the model instance). It is about
what hand-written SQL for the hot path would save (``README``,
*Performance*). Prints JSON: medians of ``--rounds`` interleaved rounds, in
ms per statement.

    .venv/bin/python -m benchmarks.bench_orm
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m benchmarks.bench_orm
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import test_databases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()
    with test_databases():
        print(json.dumps(measure(args), indent=2))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from datetime import timedelta

    from django.db import connection
    from django.db.models import F

    from django_kodmobi import clock
    from django_kodmobi.models import (
        OPEN_STATUSES,
        EventKind,
        OTPEvent,
        OTPSession,
    )
    from django_kodmobi.services.flows import _flow_by_id, _flows_with_streak_hint

    flow = OTPSession.objects.create(
        identifier="anna@example.com",
        identifier_kind="email",
        flow_token_hash="-",
        kodmobi_session_id="01KODMOBISESSION0000000000",
        expires_at=clock.now() + timedelta(days=1),
    )
    statements: dict[str, Callable[[], Any]] = {
        # get_flow_session: the flow, and whether failure streaks exist, as
        # the queryset builds it anew, and compiled once as the services run it
        "select flow (queryset)": lambda: next(
            iter(_flows_with_streak_hint().filter(pk=flow.pk)[:1])
        ),
        "select flow": lambda: _flow_by_id.get(flow.pk),
        # reserve_attempt: one check counted, conditionally
        "update attempts": lambda: OTPSession.objects.filter(
            pk=flow.pk, status__in=OPEN_STATUSES, expires_at__gt=clock.now()
        ).update(attempts=F("attempts") + 1, updated_at=clock.now()),
        # record_event: one audit event
        "insert event": lambda: OTPEvent.objects.bulk_create(
            [OTPEvent(session=flow, kind=EventKind.VERIFIED, channel="email")]
        ),
    }
    ms: dict[str, dict[str, list[float]]] = {
        name: {"orm": [], "sql": []} for name in statements
    }
    for _ in range(args.rounds):
        for name, run_orm in statements.items():
            sql, params = _produced(connection, run_orm)

            def run_sql(sql: str = sql, params: Any = params) -> None:
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    if sql.lstrip().upper().startswith("SELECT"):
                        cursor.fetchall()

            ms[name]["orm"].append(_per_call(run_orm, args.repeat))
            ms[name]["sql"].append(_per_call(run_sql, args.repeat))
    result: dict[str, Any] = {"benchmark": "orm", "database": connection.vendor}
    for name, times in ms.items():
        by_orm = statistics.median(times["orm"])
        as_sql = statistics.median(times["sql"])
        result[name] = {
            "orm_ms": round(by_orm * 1000, 3),
            "sql_ms": round(as_sql * 1000, 3),
            "orm_adds_ms": round((by_orm - as_sql) * 1000, 3),
        }
    return result


def _produced(connection: Any, run: Callable[[], Any]) -> tuple[str, Any]:
    """The statement (with its parameters) that ``run`` sends."""
    sent: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, *rest: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, *rest)

    with connection.execute_wrapper(capture):
        run()
    verbs = ("SELECT", "INSERT", "UPDATE")  # not BEGIN, SAVEPOINT, ...
    return next(each for each in sent if each[0].lstrip().upper().startswith(verbs))


def _per_call(run: Callable[[], Any], repeat: int) -> float:
    """Seconds per call of ``run``, inside one transaction as in a login's
    commit (so that no call pays a BEGIN and COMMIT of its own)."""
    from django.db import transaction

    with transaction.atomic():
        run()  # warm up
        started = time.perf_counter()
        for _ in range(repeat):
            run()
        return (time.perf_counter() - started) / repeat


if __name__ == "__main__":
    main()
