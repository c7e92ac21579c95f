"""Memory over many logins through the REST API: resident set size sampled
every tenth of the run. A leak grows with every flow; a flat line does not.

Each login is a new API client: start, then verify (as ``make bench``'s
``api`` variant). The sandbox runs in a process of its own, so only the
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


def measure(flows: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    def log_in(serial: int) -> None:
        email = returning_user(serial)
        client = Client()
        started = client.post(
            "/api/auth/start/", {"identifier": email}, content_type="application/json"
        )
        reply = client.post(
            "/api/auth/verify/",
            {"flow": started.json()["flow"], "code": CODE},
            content_type="application/json",
        )
        assert reply.status_code == 200, reply.content

    every = max(1, flows // 10)
    samples: dict[int, float] = {}
    for serial in range(1, flows + 1):
        log_in(serial)
        if serial % every == 0:
            gc.collect()
            samples[serial] = rss_mb()
    first, last = samples[min(samples)], samples[max(samples)]
    return {
        "benchmark": "memory",
        "database": connection.vendor,
        "flows": flows,
        "rss_mb": samples,
        "growth_after_first_tenth_mb": round(last - first, 1),
    }


if __name__ == "__main__":
    main()
