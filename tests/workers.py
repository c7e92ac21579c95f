"""Functions run in separate worker processes by the concurrency tests.

Importable before Django is set up: each worker sets Django up itself, as a
gunicorn worker would, and talks to the same database and cache.
"""

from __future__ import annotations

import os
from typing import Any


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


def hammer_limit(
    name: str, rates: str, tries: int, caches: dict[str, Any] | None, results: Any
) -> None:
    """Try limit ``name`` ``tries`` times (on ``caches``, else the suite's);
    put how many were allowed."""
    setup_django()
    from django.conf import settings
    from django.test import override_settings

    from django_kodmobi import limits
    from django_kodmobi.exceptions import VerificationError

    allowed = 0
    with override_settings(
        KODMOBI={**settings.KODMOBI, "RATE_LIMITS": {name: rates}},
        CACHES=caches or settings.CACHES,
    ):
        for _ in range(tries):
            try:
                limits.check_rate(name, "203.0.113.77")
            except VerificationError:
                continue
            allowed += 1
    results.put(allowed)


def run_in_processes(target: Any, argument_lists: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*args, results)`` in one spawned process per argument list
    and return what each put, failing loudly rather than hanging."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(*args, results)) for args in argument_lists
    ]
    for process in processes:
        process.start()
    collected = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        if process.exitcode != 0:
            raise AssertionError(f"worker exited with {process.exitcode}")
    return collected
