"""How fast is a full kod.mobi round (create, check, verify) per transport?

Runs the same client against the sandbox in-process (the adapter) and over
loopback HTTP (the real server), in one process and one run, and prints JSON
with the rates and their ratio. Timings are the machine's of the moment: read
the ratio, not the absolute numbers.

    .venv/bin/python -m benchmarks.bench_transports [--rounds 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from django_kodmobi.client import KodMobiClient
from django_kodmobi.sandbox import (
    SandboxConfig,
    SandboxEngine,
    SandboxServer,
    sandbox_client,
)


def one_round(client: KodMobiClient, engine: SandboxEngine, n: int) -> None:
    to = f"+7999{n:07d}"
    session = client.create_session(to, channel="sms")
    code = engine.last_code(to) or ""
    result = client.check_code(session.session_id, code)
    client.verify_token(result.verify_token)


def measure(run: Callable[[int], None], rounds: int, offset: int) -> dict[str, float]:
    durations = []
    for n in range(rounds):
        started = time.perf_counter()
        run(offset + n)
        durations.append(time.perf_counter() - started)
    total = sum(durations)
    return {
        "rounds": rounds,
        "rounds_per_second": round(rounds / total, 1),
        "median_ms": round(statistics.median(durations) * 1000, 3),
        "p95_ms": round(sorted(durations)[int(rounds * 0.95) - 1] * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds

    engine = SandboxEngine(SandboxConfig(echo=False))
    with sandbox_client(engine) as client:
        in_process = measure(lambda n: one_round(client, engine, n), rounds, 0)

    with SandboxServer(SandboxEngine(SandboxConfig(echo=False))) as server:
        config = server.engine.config
        with KodMobiClient(
            config.public_key, config.secret_key, base_url=server.url
        ) as client:
            loopback = measure(
                lambda n: one_round(client, server.engine, n), rounds, rounds
            )

    print(
        json.dumps(
            {
                "benchmark": "kod.mobi round (create + check + verify)",
                "in_process": in_process,
                "loopback_http": loopback,
                "in_process_speedup": round(
                    in_process["rounds_per_second"] / loopback["rounds_per_second"], 2
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
