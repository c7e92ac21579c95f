"""Silent unknowns: does a start for nobody's email take as long as one for a
known person's? Interleaved starts against the sandbox over loopback HTTP
(a real round trip for the known ones), medians compared. Prints JSON.

    DJANGO_SETTINGS_MODULE=tests.settings .venv/bin/python -m benchmarks.bench_silent
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from benchmarks.common import setup_django, test_databases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=300)
    starts = parser.parse_args().starts

    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    from django_kodmobi import provider
    from django_kodmobi.sandbox import SandboxConfig, SandboxEngine, SandboxServer
    from django_kodmobi.services import start_login

    engine = SandboxEngine(SandboxConfig(echo=False))
    with test_databases(), SandboxServer(engine) as server:
        kodmobi = {
            **settings.KODMOBI,
            "SANDBOX": False,
            "API_URL": server.url,
            "PUBLIC_KEY": engine.config.public_key,
            "SECRET_KEY": engine.config.secret_key,
            "UNKNOWN_IDENTIFIERS": "silent",
        }
        with override_settings(KODMOBI=kodmobi):
            provider.reset()
            user_model = get_user_model()
            took: dict[str, list[float]] = {"known": [], "unknown": []}
            for n in range(starts):
                user_model.objects.create_user(f"k{n:05}", f"k{n:05}@example.com")
                for kind, email in (("known", f"k{n:05}"), ("unknown", f"u{n:05}")):
                    started = time.perf_counter()
                    start_login(f"{email}@example.com")
                    took[kind].append(time.perf_counter() - started)
            calls = dict(engine.calls)
        medians = {kind: statistics.median(values) for kind, values in took.items()}
        print(
            json.dumps(
                {
                    "benchmark": "silent_unknowns",
                    "starts_each": starts,
                    "median_ms": {k: round(v * 1000, 2) for k, v in medians.items()},
                    "unknown_over_known": round(
                        medians["unknown"] / medians["known"], 3
                    ),
                    "kodmobi_calls": calls,
                }
            )
        )


if __name__ == "__main__":
    main()
