"""What every benchmark needs: Django set up on the test settings, and a
test database (SQLite in memory, or DATABASE_URL's) for the run."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_kodmobi.sandbox import SandboxConfig, SandboxEngine, SandboxServer


#: Statements that only delimit transactions: not counted as a login's work.
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


def sql_verb(sql: str) -> str:
    """The first word of ``sql``: SELECT, INSERT, BEGIN..."""
    return sql.split(None, 1)[0].upper()


def own_statements(captured: Iterable[dict[str, Any]]) -> int:
    """Statements run, without transaction control and without the session
    engine's own (``django_session``: the same for every login, and none with
    signed-cookie sessions)."""
    return sum(
        sql_verb(query["sql"]) not in TRANSACTION_CONTROL
        and '"django_session"' not in query["sql"]
        for query in captured
    )


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


@contextmanager
def test_databases() -> Iterator[None]:
    setup_django()
    from django.test.runner import DiscoverRunner
    from django.test.utils import setup_test_environment

    setup_test_environment()
    runner = DiscoverRunner(verbosity=0)
    old_config = runner.setup_databases()
    _index_user_emails()
    try:
        yield
    finally:
        runner.teardown_databases(old_config)


def _index_user_emails() -> None:
    """The index a real site would have on the field it logs people in by.

    The floor (``benchmarks/floor.py``) finds its user by email; without it,
    each floor login scans ``auth_user`` and every ratio against the floor
    reads a little high.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS bench_auth_user_email ON auth_user (email)"
        )


@contextmanager
def sandbox_site(**overrides: Any) -> Iterator[tuple[SandboxEngine, SandboxServer]]:
    """A sandbox served on loopback and the settings that point the app at
    it. Inside :func:`test_databases`."""
    from django_kodmobi.sandbox import SandboxConfig, SandboxEngine, SandboxServer

    engine = SandboxEngine(SandboxConfig(echo=False))
    server = SandboxServer(engine).start()
    try:
        with pointed_at(server.url, engine.config, **overrides):
            yield engine, server
    finally:
        server.stop()


@contextmanager
def sandbox_process(fixed_code: str, **overrides: Any) -> Iterator[str]:
    """A sandbox in a process of its own (its memory apart from the app's)
    that sends every code as ``fixed_code``, and the settings that point the
    app at it; yields its URL."""
    import multiprocessing
    import socket

    from django_kodmobi.sandbox import SandboxConfig

    config = SandboxConfig(echo=False, fixed_code=fixed_code)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(config, port), daemon=True
    )
    process.start()
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        with pointed_at(url, config, **overrides):
            yield url
    finally:
        process.terminate()
        process.join()


def _serve(config: SandboxConfig, port: int) -> None:
    from django_kodmobi.sandbox import SandboxEngine, SandboxServer

    SandboxServer(SandboxEngine(config), port=port).serve_forever()


@contextmanager
def pointed_at(url: str, config: SandboxConfig, **overrides: Any) -> Iterator[None]:
    """Settings for a sandbox at ``url``: rate limits on, and high enough
    for thousands of logins from one address."""
    from django.core.cache import cache
    from django.test.utils import override_settings

    from django_kodmobi import breaker, provider
    from django_kodmobi.conf import DEFAULTS

    kodmobi = {
        "API_URL": url,
        "PUBLIC_KEY": config.public_key,
        "SECRET_KEY": config.secret_key,
        "MAX_RETRIES": 0,
        "RATE_LIMITS": dict.fromkeys(DEFAULTS["RATE_LIMITS"], "1000000/h"),
    }
    with override_settings(KODMOBI=kodmobi, DEBUG=False, **overrides):
        provider.reset()
        breaker.reset()
        cache.clear()
        try:
            yield
        finally:
            provider.reset()


def returning_user(serial: int) -> str:
    """A user who logs in by email through a verified contact; the email."""
    from django.contrib.auth import get_user_model

    from django_kodmobi.models import Contact

    email = f"user{serial}@example.com"
    user = get_user_model().objects.create_user(email, email)
    Contact.objects.create(
        user=user, kind="email", value=email, verified_at="2026-01-01T00:00Z"
    )
    return email


def database_url() -> str:
    """The URL of the (test) database this process uses, for the processes
    it starts: they must see the same rows."""
    from django.db import connection

    database = connection.settings_dict
    return (
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}"
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
