"""Memory over many logins through the REST API: resident set size sampled
every tenth of the run. A leak grows with every flow; a flat line does not.

Each login is a start and a verify through Django's WSGI handler and the
whole middleware (as ``make bench``'s ``api`` variant, without the test
client's bookkeeping). The sandbox runs in a process of its own, so only the
app's memory is measured. Prints JSON.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m benchmarks.bench_memory --flows 10000
"""

from __future__ import annotations

import argparse
import gc
import json
from pathlib import Path
from typing import Any

from benchmarks.common import returning_user, sandbox_process, test_databases

#: The sandbox, in a process of its own so that its memory is not counted,
#: sends every code as this one.
CODE = "123456"


def rss_mb() -> float:
    """The resident set size now (not the peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=10_000)
    args = parser.parse_args()
    with test_databases(), sandbox_process(CODE, ROOT_URLCONF="benchmarks.urls"):
        print(json.dumps(measure(args.flows), indent=2))


def measure(flows: int, first: int = 1) -> dict[str, Any]:
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test import RequestFactory

    # Django's own handler and middleware, without the test client, whose
    # per-request signal bookkeeping would be measured too.
    handler = WSGIHandler()
    factory = RequestFactory()

    def post(path: str, body: dict[str, str]) -> Any:
        request = factory.post(path, body, content_type="application/json")
        # As the test client does: these are not a browser's requests.
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return handler.get_response(request)

    def log_in(serial: int) -> None:
        email = returning_user(serial)
        started = json.loads(post("/api/auth/start/", {"identifier": email}).content)
        reply = post("/api/auth/verify/", {"flow": started["flow"], "code": CODE})
        assert reply.status_code == 200, reply.content

    every = max(1, flows // 10)
    samples: dict[int, float] = {}
    for done in range(1, flows + 1):
        log_in(first + done)
        if done % every == 0:
            gc.collect()
            samples[done] = rss_mb()
    earliest, latest = samples[min(samples)], samples[max(samples)]
    return {
        "benchmark": "memory",
        "database": connection.vendor,
        "flows": flows,
        "rss_mb": samples,
        "growth_after_first_tenth_mb": round(latest - earliest, 1),
    }


if __name__ == "__main__":
    main()
