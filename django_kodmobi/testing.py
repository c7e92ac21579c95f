"""A test kit for sites that log in with django_kodmobi.

Nothing reaches kod.mobi: kod.mobi answers from a fresh in-process sandbox
per test, which behaves as kod.mobi does (expiry, channel timeouts, the
5-strike block), not as a stub. With pytest the fixtures of
:mod:`django_kodmobi.pytest_plugin` are there once the package is installed::

    def test_login(client, kodmobi_code):
        client.post("/accounts/login/", {"identifier": "+79991234567"})
        client.post("/accounts/login/code/", {"code": kodmobi_code("+79991234567")})

With ``unittest``, mix :class:`KodMobiTestMixin` into a ``TestCase``:
``self.kodmobi`` is the sandbox, ``self.kodmobi_code(to)`` the last code sent
there, ``self.kodmobi_outbox()`` everything sent, ``self.kodmobi_faults``
the switches that make kod.mobi fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import cache
from django.test import override_settings

from . import breaker, provider
from .sandbox import Fault, FaultKind, SandboxEngine

__all__ = [
    "KodMobiFaults",
    "KodMobiTestMixin",
    "SentCode",
    "fresh_sandbox",
    "last_code",
    "outbox",
    "sandbox_settings",
]


@contextmanager
def sandbox_settings() -> Iterator[SandboxEngine]:
    """Within the block kod.mobi is a fresh in-process sandbox, whatever
    ``KODMOBI`` says about ``API_URL`` and ``SANDBOX``; yield that sandbox."""
    from django.conf import settings

    configured = getattr(settings, "KODMOBI", {})
    sandbox = configured.get("SANDBOX") or True
    with override_settings(KODMOBI={**configured, "SANDBOX": sandbox}):
        engine = fresh_sandbox()
        engine.inbox.echo = False  # a test reads the outbox, not the console
        try:
            yield engine
        finally:
            provider.reset()
            breaker.reset()


def fresh_sandbox() -> SandboxEngine:
    """Forget every client and session, the circuit breaker's state and the
    cached channel lists; return a new in-process sandbox."""
    provider.reset()
    breaker.reset()
    cache.delete_many([f"kodmobi:channels:{language}" for language in ("en", "ru")])
    return provider.get_sandbox()


def last_code(to: str | None = None) -> str:
    """The last code the in-process sandbox delivered (to ``to``)."""
    code = provider.get_sandbox().last_code(to)
    if code is None:
        raise AssertionError(f"kod.mobi sandbox delivered nothing to {to or 'anyone'}")
    return code


@dataclass(frozen=True)
class SentCode:
    """One message the sandbox delivered."""

    to: str
    channel: str
    code: str
    #: Why it was sent: ``login``, ``step_up``, ``contact``, ``second_factor``
    #: for this app's flows; the asker's word (``allauth``, ``two_factor``,
    #: ``otp_device``) for codes the site made itself.
    purpose: str


def outbox(engine: SandboxEngine | None = None) -> list[SentCode]:
    """Every message delivered so far, oldest first. Reads the database for
    each message's purpose."""
    from .models import ManualDelivery, OTPSession

    messages = (engine or provider.get_sandbox()).inbox.messages()
    flows = dict(
        OTPSession.objects.filter(
            kodmobi_session_id__in={m.session_id for m in messages if m.session_id}
        ).values_list("kodmobi_session_id", "purpose")
    )
    manual = dict(
        ManualDelivery.objects.filter(
            kodmobi_message_id__in={m.id for m in messages if not m.session_id}
        ).values_list("kodmobi_message_id", "purpose")
    )
    return [
        SentCode(
            m.to,
            m.channel,
            m.code,
            flows.get(m.session_id, "") if m.session_id else manual.get(m.id, ""),
        )
        for m in messages
    ]


class KodMobiFaults:
    """Switches that make the sandbox fail the way kod.mobi can. Each one
    lasts until the test ends (or ``times`` calls, where it takes one)."""

    def __init__(self, engine: SandboxEngine) -> None:
        self.engine = engine

    def down(self, *operations: str, times: int | None = None) -> None:
        """kod.mobi answers 503 (to ``operations`` such as ``"create"``, or to all)."""
        self.engine.faults.add(
            Fault(FaultKind.ERROR, frozenset(operations), status=503, times=times)
        )

    def slow(self, seconds: float, *operations: str, times: int | None = None) -> None:
        """kod.mobi answers after ``seconds``, having done the work."""
        self.engine.faults.add(
            Fault(
                FaultKind.LATENCY, frozenset(operations), latency=seconds, times=times
            )
        )

    def out_of_balance(self) -> None:
        """Every send is refused: the kod.mobi account has no money."""
        self.engine.configure(balance_empty=True)

    def no_channels(self) -> None:
        """The kod.mobi project has no channel to send through."""
        self.engine.configure(channels=())

    def block(self, to: str, seconds: float | None = None) -> None:
        """kod.mobi refuses ``to`` as after 15 wrong codes (for an hour)."""
        self.engine.project.block(to, seconds)

    def reachable_on(self, to: str, *channels: str) -> None:
        """``to`` gets codes on these channels only (say, a phone with no Telegram)."""
        self.engine.project.set_reachable(to, list(channels))

    def clear(self) -> None:
        """kod.mobi works again (faults gone; balance and channels back)."""
        self.engine.faults.clear()
        self.engine.restore()


class KodMobiTestMixin:
    """Give each test of a ``TestCase`` a fresh sandbox as ``self.kodmobi``."""

    kodmobi: SandboxEngine
    kodmobi_faults: KodMobiFaults

    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        sandbox = sandbox_settings()
        self.kodmobi = sandbox.__enter__()
        self.addCleanup(sandbox.__exit__, None, None, None)  # type: ignore[attr-defined]
        self.kodmobi_faults = KodMobiFaults(self.kodmobi)

    def kodmobi_code(self, to: str | None = None) -> str:
        """The last code sent (to ``to``)."""
        return last_code(to)

    def kodmobi_outbox(self) -> list[SentCode]:
        """Every message sent in this test, oldest first."""
        return outbox(self.kodmobi)
