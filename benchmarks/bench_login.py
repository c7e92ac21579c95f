"""Full logins through the services (start, verify, log in) per second.

Uses the test settings (SQLite in memory unless DATABASE_URL says otherwise)
and the in-process sandbox; counts the queries of each step too. Prints JSON.

    DJANGO_SETTINGS_MODULE=tests.settings .venv/bin/python -m benchmarks.bench_login
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from benchmarks.common import setup_django, test_databases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=200)
    logins = parser.parse_args().logins

    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_kodmobi.services import log_in, start_login, verify_code
    from django_kodmobi.testing import fresh_sandbox
    from tests.helpers import session_request

    with test_databases():
        engine = fresh_sandbox()
        user_model = get_user_model()
        steps: dict[str, list[float]] = {"start": [], "verify": [], "log_in": []}
        queries: dict[str, int] = {}
        for n in range(logins):
            email = f"user{n}@example.com"
            user_model.objects.create_user(f"user{n}", email)
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                flow = start_login(email)
                steps["start"].append(time.perf_counter() - started)
            queries["start"] = len(captured)
            code = engine.last_code(email) or ""
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                verify_code(flow.session.pk, flow.token, code)
                steps["verify"].append(time.perf_counter() - started)
            queries["verify"] = len(captured)
            request = session_request()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                log_in(request, flow.session.pk, flow.token)
                steps["log_in"].append(time.perf_counter() - started)
            queries["log_in"] = len(captured)
        total = sum(sum(values) for values in steps.values())
        print(
            json.dumps(
                {
                    "benchmark": "passwordless login through the services",
                    "database": connection.vendor,
                    "logins": logins,
                    "logins_per_second": round(logins / total, 1),
                    "median_ms": {
                        step: round(statistics.median(values) * 1000, 3)
                        for step, values in steps.items()
                    },
                    "queries": queries,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
