"""A fault run: the example site under gunicorn (2 workers) on PostgreSQL and
a redis-server of its own, with mixed traffic (right codes, wrong codes,
double submits, page logins) while a worker is killed, Redis is killed and
started again, and the sandbox first stalls and then fails.

What it proves, in the JSON of its last line:

- ``server_errors``: replies 500-599 other than 503 (must be 0);
- ``double_logins``: flows that two concurrent right codes both logged in
  (must be 0);
- ``checks_over_budget``: kod.mobi sessions the sandbox saw checked more
  than ``MAX_ATTEMPTS`` times (must be 0; the sandbox is told not to block,
  so only the app's budget holds them);
- ``rows_without_outcome``: flows still open, or failed with no reason,
  once every flow has expired and ``kodmobi_cleanup`` has run (must be 0);
- ``recovery_seconds``: per fault, from the moment it ends until a login
  started after it succeeds (each must be at most 2: ``recovery_within_2s``).

The run fails on any of the first four; the recovery is a timing on a
shared machine, so it fails the run only with ``--gate-recovery``.

    make chaos                               # 90 s of traffic
    .venv/bin/python -m benchmarks.chaos --seconds 60   # the short run of .ci/run

It needs PostgreSQL on 127.0.0.1:5432 (trust; it makes a database of its
own and drops it) and ``redis-server`` on the PATH; it sends traffic to
loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MAX_ATTEMPTS = 5
#: How long the sandbox fails (502) after its stall: longer than a DEADLINE.
FAIL_SECONDS = 11
#: The sandbox's own keys (django_kodmobi.sandbox.DEFAULT_*_KEY).
PUBLIC_KEY = "11111111-1111-4111-8111-111111111111"
SECRET_KEY = "22222222-2222-4222-8222-222222222222"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, seconds: float = 30) -> None:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# -- the parts of the site, each started and stopped by the run ------------------


class RedisServer:
    """A redis-server of the run's own, which it may kill."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new PostgreSQL database on ``server``; yields its URL, then drops it."""
    name = f"kodmobi_chaos_{os.getpid()}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], port: int) -> Iterator[Any]:
    child = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603
    try:
        wait_for_port(port, 60)
        yield child
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


def gunicorn_workers(master: int) -> list[int]:
    """The worker pids of gunicorn's ``master``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == master:
                    found.append(int(entry.name))
    return found


# -- traffic ---------------------------------------------------------------------


@dataclass
class Tally:
    """What the traffic saw, shared by every client thread."""

    statuses: Counter[int] = field(default_factory=Counter)
    dropped: int = 0
    logins: int = 0
    double_submits: int = 0
    double_logins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + amount)


class Client:
    """One person's browser or app, from an address of its own."""

    def __init__(self, site: str, sandbox: str, tally: Tally) -> None:
        self.site, self.sandbox, self.tally = site, sandbox, tally
        self.http = requests.Session()
        address = f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"
        self.http.headers["X-Forwarded-For"] = address

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        try:
            reply = self.http.request(method, self.site + path, **kwargs)
        except requests.RequestException:
            self.tally.add("dropped")
            raise
        self.tally.saw(reply.status_code)
        return reply

    def csrf(self) -> dict[str, str]:
        return {"X-CSRFToken": self.http.cookies.get("csrftoken") or ""}

    def code_for(self, to: str) -> str:
        reply = requests.get(
            f"{self.sandbox}/sandbox/inbox", params={"to": to}, timeout=10
        )
        messages = reply.json()["messages"]
        if not messages:
            raise LookupError("no code delivered")
        return str(messages[0]["code"])

    def start(self, email: str) -> str | None:
        self.call("GET", "/api/auth/config/")
        reply = self.call(
            "POST", "/api/auth/start/", json={"identifier": email}, headers=self.csrf()
        )
        return str(reply.json()["flow"]) if reply.status_code == 201 else None

    def verify(self, flow: str, code: str) -> requests.Response:
        return self.call(
            "POST",
            "/api/auth/verify/",
            json={"flow": flow, "code": code},
            headers=self.csrf(),
        )

    # -- the scenarios -----------------------------------------------------------

    def api_login(self) -> bool:
        email = new_email()
        flow = self.start(email)
        if flow is None:
            return False
        ok = self.verify(flow, self.code_for(email)).status_code == 200
        if ok:
            self.tally.add("logins")
        return ok

    def wrong_codes(self) -> None:
        email = new_email()
        flow = self.start(email)
        if flow is None:
            return
        wrong = "000000" if self.code_for(email) != "000000" else "111111"
        for _ in range(random.randint(1, 7)):
            self.verify(flow, wrong)

    def double_submit(self) -> None:
        """The right code twice at once, as a paste that submits and Enter."""
        email = new_email()
        flow = self.start(email)
        if flow is None:
            return
        code = self.code_for(email)
        twin = Client(self.site, self.sandbox, self.tally)
        twin.http.cookies.update(self.http.cookies)
        twin.http.headers.update(self.http.headers)
        gate = threading.Barrier(2)
        outcomes: list[int] = []

        def submit(client: Client) -> None:
            gate.wait()
            with contextlib.suppress(requests.RequestException):
                outcomes.append(client.verify(flow, code).status_code)

        threads = [threading.Thread(target=submit, args=(c,)) for c in (self, twin)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.tally.add("double_submits")
        wins = outcomes.count(200)
        self.tally.add("logins", wins)
        if wins > 1:
            self.tally.add("double_logins")

    def page_login(self) -> None:
        email = new_email()
        page = self.call("GET", "/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if token is None:
            return
        form = {"csrfmiddlewaretoken": token[1]}
        started = self.call(
            "POST", "/accounts/login/", data={**form, "identifier": email}
        )
        if started.status_code != 302:
            return
        done = self.call(
            "POST", "/accounts/login/code/", data={**form, "code": self.code_for(email)}
        )
        if done.status_code == 302 and "/accounts/login/code/" not in done.headers.get(
            "Location", ""
        ):
            self.tally.add("logins")


_serial = iter(range(10**9))
_serial_lock = threading.Lock()


def new_email() -> str:
    with _serial_lock:
        return f"chaos{next(_serial)}.{os.getpid()}@example.com"


def traffic(site: str, sandbox: str, tally: Tally, until: float) -> None:
    """One client thread: a random mix of scenarios until ``until``."""
    scenarios: list[tuple[Callable[[Client], Any], int]] = [
        (Client.api_login, 4),
        (Client.wrong_codes, 2),
        (Client.double_submit, 2),
        (Client.page_login, 2),
    ]
    names, weights = zip(*scenarios, strict=True)
    while time.monotonic() < until:
        scenario = random.choices(names, weights)[0]
        with contextlib.suppress(
            requests.RequestException, LookupError, KeyError, ValueError
        ):
            scenario(Client(site, sandbox, tally))
        time.sleep(random.uniform(0.05, 0.2))


@dataclass
class Probes:
    """A login started every quarter second, each in a thread of its own,
    so that one stuck request does not hide that the next ones work."""

    results: list[tuple[float, float, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, site: str, sandbox: str, tally: Tally, until: float) -> None:
        with ThreadPoolExecutor(max_workers=24) as pool:
            while time.monotonic() < until:
                pool.submit(self.probe, site, sandbox, tally)
                time.sleep(0.25)

    def probe(self, site: str, sandbox: str, tally: Tally) -> None:
        started = time.monotonic()
        ok = False
        with contextlib.suppress(
            requests.RequestException, LookupError, KeyError, ValueError
        ):
            ok = Client(site, sandbox, tally).api_login()
        with self.lock:
            self.results.append((started, time.monotonic(), ok))

    def recovery(self, cleared: float) -> float | None:
        """Seconds from ``cleared`` until a login started after it ended well."""
        ends = [end for start, end, ok in self.results if ok and start >= cleared]
        return round(min(ends) - cleared, 2) if ends else None


# -- the run ---------------------------------------------------------------------


def faults(
    seconds: float, sandbox: str, redis: RedisServer, master: int
) -> Iterator[tuple[str, float]]:
    """Set off each fault at its time; yield (name, when it ended)."""
    began = time.monotonic()

    def at(fraction: float, extra: float = 0) -> None:
        time.sleep(max(0.0, began + fraction * seconds + extra - time.monotonic()))

    at(0.12)
    os.kill(random.choice(gunicorn_workers(master)), signal.SIGKILL)
    yield "worker_killed", time.monotonic()

    at(0.25)
    redis.kill()
    at(0.25, 5)
    redis.start()
    yield "redis_restarted", time.monotonic()

    at(0.45)
    control = f"{sandbox}/sandbox/faults"
    requests.post(control, json={"kind": "latency", "latency": 15}, timeout=5)
    at(0.45, 12)
    # Calls caught in the stall end within a DEADLINE (10 s): the failing
    # phase outlasts them, so what is timed after it is kod.mobi's return.
    requests.delete(control, timeout=5)
    requests.post(control, json={"kind": "error", "status": 502}, timeout=5)
    at(0.45, 12 + FAIL_SECONDS)
    requests.delete(control, timeout=5)
    yield "kodmobi_stalled_then_failed", time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CHAOS_POSTGRES", "postgres://postgres@127.0.0.1:5432"),
    )
    parser.add_argument(
        "--gate-recovery",
        action="store_true",
        help="also fail when logins took more than 2 s to work again after a fault",
    )
    args = parser.parse_args()
    if args.seconds < 60:
        parser.error("--seconds: at least 60, so every fault fits with time after it")
    redis = RedisServer()
    redis.start()
    try:
        with fresh_database(args.postgres) as database:
            report = run(args, redis, database)
    finally:
        redis.stop()
    report["recovery_within_2s"] = all(
        v is not None and v <= 2 for v in report["recovery_seconds"].values()
    )
    print(json.dumps(report, sort_keys=True))
    # What must never happen fails the run; how fast logins came back is a
    # timing on a shared machine: reported, and failing only when asked.
    broken = (
        report["server_errors"]
        or report["double_logins"]
        or report["checks_over_budget"]
        or report["rows_without_outcome"]
    )
    slow = args.gate_recovery and not report["recovery_within_2s"]
    sys.exit(1 if broken or slow else 0)


def run(args: argparse.Namespace, redis: RedisServer, database: str) -> dict[str, Any]:
    sandbox_port, site_port = free_port(), free_port()
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DEBUG": "false",
        "DJANGO_SECRET_KEY": "chaos-run-only-" + "x" * 40,
        "DATABASE_URL": database,
        "CACHE_URL": f"rediscache://127.0.0.1:{redis.port}/0",
        "KODMOBI_API_URL": sandbox,
        "KODMOBI_PUBLIC_KEY": PUBLIC_KEY,
        "KODMOBI_SECRET_KEY": SECRET_KEY,
        # The traffic comes from many addresses, through "a proxy" (itself).
        "KODMOBI_TRUSTED_PROXY_COUNT": "1",
        "KODMOBI_SITE_SENDS_PER_HOUR": "100000",
    }
    manage = [PYTHON, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True)  # noqa: S603
    # kod.mobi's own 5-strike block off: only the app's budget may hold.
    sandbox_command = [
        PYTHON,
        "-m",
        "django_kodmobi.sandbox",
        "--port",
        str(sandbox_port),
    ]
    sandbox_command += ["--quiet", "--max-wrong-codes", "1000"]
    site_command = [PYTHON, "-m", "gunicorn", "example_project.wsgi:application"]
    site_command += ["--bind", f"127.0.0.1:{site_port}", "--workers", "2"]
    site_command += ["--threads", "4", "--timeout", "60", "--log-level", "error"]
    with (
        process(sandbox_command, env, sandbox_port),
        process(site_command, env, site_port) as site_process,
    ):
        site = f"http://127.0.0.1:{site_port}"
        tally, probes = Tally(), Probes()
        until = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=traffic, args=(site, sandbox, tally, until))
            for _ in range(args.clients)
        ]
        threads.append(
            threading.Thread(target=probes.run, args=(site, sandbox, tally, until))
        )
        for thread in threads:
            thread.start()
        ended = dict(faults(args.seconds, sandbox, redis, site_process.pid))
        for thread in threads:
            thread.join()
        checks = requests.get(f"{sandbox}/sandbox/sessions", timeout=10).json()[
            "checks"
        ]
    rows = rows_without_outcome(database, env)
    return {
        "benchmark": "chaos",
        "seconds": args.seconds,
        "requests": sum(tally.statuses.values()),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "dropped_connections": tally.dropped,
        "logins": tally.logins,
        "double_submits": tally.double_submits,
        "kodmobi_sessions": len(checks),
        "server_errors": sum(
            n for status, n in tally.statuses.items() if status >= 500 and status != 503
        ),
        "double_logins": tally.double_logins,
        "checks_over_budget": sum(1 for n in checks.values() if n > MAX_ATTEMPTS),
        "rows_without_outcome": rows,
        "recovery_seconds": {name: probes.recovery(at) for name, at in ended.items()},
    }


def rows_without_outcome(database: str, env: dict[str, str]) -> int:
    """Wait until every flow has expired, run the cleanup, and count the rows
    it left open, or failed without a reason."""
    with psycopg.connect(database) as db:
        latest = db.execute(
            "SELECT EXTRACT(EPOCH FROM MAX(expires_at) - NOW()) FROM kodmobi_otpsession"
            " WHERE status IN ('created', 'sent', 'verified')"
        ).fetchone()
    wait = float(latest[0] or 0) if latest else 0.0
    time.sleep(max(0.0, wait) + 1)
    subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", "kodmobi_cleanup"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with psycopg.connect(database) as db:
        row = db.execute(
            "SELECT COUNT(*) FROM kodmobi_otpsession WHERE"
            " status IN ('created', 'sent', 'verified')"
            " OR (status = 'failed' AND last_error = '')"
        ).fetchone()
    return int(row[0]) if row else 0


if __name__ == "__main__":
    main()
