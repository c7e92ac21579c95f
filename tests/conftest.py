from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from django_kodmobi.client import KodMobiClient
from django_kodmobi.sandbox import (
    SandboxConfig,
    SandboxEngine,
    SandboxServer,
    sandbox_client,
)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Limits, the breaker and cached channel lists start empty in each test."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the site's language: a request with
    Accept-Language leaves its language active in the thread."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


#: The suite's sandbox: a phone is connected on every messenger (the default
#: leaves Telegram to be connected first, tested on its own).
CONNECTED = {"telegram", "whatsapp", "sms"}


@pytest.fixture
def engine() -> SandboxEngine:
    return SandboxEngine(
        SandboxConfig(echo=False, phone_channels=frozenset(CONNECTED)),
        clock=FakeClock(),
    )


@pytest.fixture
def kodmobi(engine: SandboxEngine) -> Iterator[KodMobiClient]:
    """The real client, talking to the sandbox in-process."""
    with sandbox_client(engine, sleep=lambda seconds: None) as client:
        yield client


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    engine = SandboxEngine(
        SandboxConfig(echo=False, phone_channels=frozenset(CONNECTED))
    )
    with SandboxServer(engine) as server:
        yield server


@pytest.fixture
def loopback(sandbox_server: SandboxServer) -> Iterator[KodMobiClient]:
    """The real client, talking to the sandbox over loopback HTTP."""
    sandbox_server.engine.faults.clear()
    config = sandbox_server.engine.config
    with KodMobiClient(
        config.public_key,
        config.secret_key,
        base_url=sandbox_server.url,
        timeout=(2, 5),
        sleep=lambda seconds: None,
    ) as client:
        yield client


class Api:
    """A client and the sandbox behind it, whichever transport joins them."""

    def __init__(self, client: KodMobiClient, engine: SandboxEngine) -> None:
        self.client = client
        self.engine = engine

    def code(self, to: str) -> str:
        code = self.engine.last_code(to)
        assert code is not None, f"nothing delivered to {to}"
        return code


@pytest.fixture(params=["in-process", "loopback"])
def api(request: pytest.FixtureRequest, engine: SandboxEngine) -> Api:
    if request.param == "in-process":
        return Api(request.getfixturevalue("kodmobi"), engine)
    server: SandboxServer = request.getfixturevalue("sandbox_server")
    return Api(request.getfixturevalue("loopback"), server.engine)


_numbers = iter(range(1_000_000, 9_999_999))


@pytest.fixture
def phone() -> str:
    """A phone number no other test uses (the loopback sandbox is shared)."""
    return f"+7999{next(_numbers)}"


@pytest.fixture
def email(phone: str) -> str:
    return f"user{phone[1:]}@example.com"


# -- no secrets or personal data in any log line of the whole suite ---------------

#: A full E.164 number or a whole email address, as a log line must never hold.
_PERSONAL = re.compile(r"\+\d{8,15}\b|[\w.+-]+@[\w-]+\.[\w.-]+")
#: A 256-bit url-safe token (flow tokens, verify tokens): long, and mixing
#: upper case, lower case and digits as random text does.
_TOKEN = re.compile(
    r"(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{40,}"
)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture(scope="session", autouse=True)
def _no_secrets_in_logs() -> Iterator[None]:
    """Every log line of this app, at every level, over the whole run."""
    from django.conf import settings

    capture = _Capture()
    logger = logging.getLogger("django_kodmobi")
    level = logger.level
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
    keys = {str(settings.KODMOBI["PUBLIC_KEY"]), str(settings.KODMOBI["SECRET_KEY"])}
    leaks = [
        line
        for line in capture.lines
        if _PERSONAL.search(line) or _TOKEN.search(line) or any(k in line for k in keys)
    ]
    assert not leaks, "\n".join(leaks[:20])
