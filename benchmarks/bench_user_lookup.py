"""The login's user lookup at 10^5 users: a verified contact (one indexed
query) against the user field (``email__iexact``), with both plans.

Users and their contacts are generated in the database (INSERT ... SELECT).
Prints JSON: the median time of each lookup over ``--repeat`` random users,
and PostgreSQL's EXPLAIN of each.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m benchmarks.bench_user_lookup
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

from benchmarks.common import setup_django, test_databases

_NUMBERS = (
    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %s)"
)
_USERS = (
    _NUMBERS
    + """
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,
                       email, is_staff, is_active, date_joined)
SELECT '!', false, 'user' || n, '', '', 'User' || n || '@Example.com', false, true,
       CURRENT_TIMESTAMP
FROM g
"""
)
_CONTACTS = """
INSERT INTO kodmobi_contact (user_id, kind, value, verified_at, "primary", created_at)
SELECT id, 'email', lower(email), CURRENT_TIMESTAMP, true, CURRENT_TIMESTAMP
FROM auth_user
"""


def timed(action: Any, arguments: list[Any]) -> float:
    times = []
    for argument in arguments:
        started = time.perf_counter()
        action(argument)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    setup_django()
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from django_kodmobi.users import find_account, normalize_identifier, user_by_field

    with test_databases():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_USERS.replace("%s", str(int(args.users))))
            cursor.execute(_CONTACTS)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE auth_user; ANALYZE kodmobi_contact")
        rng = random.Random(5)
        emails = [
            normalize_identifier(f"user{rng.randint(1, args.users)}@example.com")
            for _ in range(args.repeat)
        ]
        plans: dict[str, str] = {}
        for name, lookup in (
            ("contact", find_account),
            ("user_field", user_by_field),
        ):
            with CaptureQueriesContext(connection) as queries:
                lookup(emails[0])
            sql = queries[0]["sql"]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN " + sql)
                    plans[name] = " | ".join(row[0] for row in cursor.fetchall())
            plans[f"{name}_queries"] = str(len(queries))
        print(
            json.dumps(
                {
                    "benchmark": "the login's user lookup",
                    "database": connection.vendor,
                    "users": args.users,
                    "median_ms": {
                        "verified_contact": timed(find_account, emails),
                        "email_iexact": timed(user_by_field, emails),
                    },
                    "plans": plans,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
