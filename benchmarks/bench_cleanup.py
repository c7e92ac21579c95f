"""``kodmobi_cleanup`` on a large backlog: time, peak memory, longest batch.

Fills ``--rows`` login flows (with ~2.7 events each, and a kod.mobi
session each) spread over ``--spread-days``: at 10^6 rows over 116 days,
about 220,000 are older than the 90 days kept; and per ten flows an expired
passkey challenge and an ended trusted browser, the other tables it
prunes. Then runs the command in this process (its batch size, without the
rest between batches), timing every batch (each is one short transaction)
and reading the process's peak RSS before and after. Prints JSON.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m benchmarks.bench_cleanup
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import resource
import time
from typing import Any

from benchmarks.common import test_databases


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--spread-days", type=int, default=116)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: the command's"
    )
    args = parser.parse_args()

    with test_databases():
        print(json.dumps(clean_up(args), indent=2))


def clean_up(args: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.bench_admin_charts import fill
    from django_kodmobi.management.commands import kodmobi_cleanup
    from django_kodmobi.models import (
        KodSession,
        OTPEvent,
        OTPSession,
        PasskeyChallenge,
        TrustedBrowser,
    )

    batches: dict[str, list[float]] = {}

    def timed(name: str, batch: Any) -> Any:
        @functools.wraps(batch)
        def run(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return batch(*a, **k)
            finally:
                batches.setdefault(name, []).append(time.perf_counter() - started)

        return run

    for name in (
        "_expire_batch",
        "_delete_session_batch",
        "_delete_batch",  # kod.mobi sessions, passkey challenges, trust
    ):
        setattr(kodmobi_cleanup, name, timed(name, getattr(kodmobi_cleanup, name)))
    fill(args.rows, args.spread_days, pruned_too=True)
    pruned = (OTPSession, OTPEvent, KodSession, PasskeyChallenge, TrustedBrowser)
    before = {model._meta.model_name: model.objects.count() for model in pruned}
    rss_before = _peak_rss_mb()
    out = io.StringIO()
    started = time.perf_counter()
    # No rest between batches: what is measured is each batch, and memory.
    options = ["--pause", "0"]
    if args.batch_size:
        options += ["--batch-size", str(args.batch_size)]
    call_command("kodmobi_cleanup", *options, stdout=out)
    elapsed = time.perf_counter() - started
    every = [seconds for times in batches.values() for seconds in times]
    return {
        "benchmark": "kodmobi_cleanup",
        "database": connection.vendor,
        "before": before,
        "after": {model._meta.model_name: model.objects.count() for model in pruned},
        "output": out.getvalue().strip(),
        "seconds": round(elapsed, 1),
        "batches": len(every),
        "longest_batch_ms": round(max(every) * 1000, 1),
        "longest_batch_ms_by_step": {
            name: round(max(times) * 1000, 1) for name, times in batches.items()
        },
        "peak_rss_mb_before": rss_before,
        "peak_rss_mb_after": _peak_rss_mb(),
    }


if __name__ == "__main__":
    main()
