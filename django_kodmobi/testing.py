"""Helpers for testing a project that uses django_kodmobi.

Set ``KODMOBI = {"SANDBOX": True, ...}`` in the test settings, so kod.mobi
answers from the in-process sandbox, then::

    from django_kodmobi.testing import KodMobiTestMixin

    class LoginTests(KodMobiTestMixin, TestCase):
        def test_login(self):
            flow = start_login("+79991234567")
            code = self.kodmobi_code("+79991234567")
            ...

The sandbox is the real kod.mobi behaviour (expiry, channel timeouts,
wrong-code blocks), not a stub: ``self.kodmobi.advance(180)`` expires a
session, ``self.kodmobi.faults.add(...)`` makes kod.mobi fail.
"""

from __future__ import annotations

from django.core.cache import cache

from . import breaker, provider
from .sandbox import SandboxEngine

__all__ = ["KodMobiTestMixin", "fresh_sandbox", "last_code"]


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


class KodMobiTestMixin:
    """Give each test a fresh sandbox as ``self.kodmobi``."""

    kodmobi: SandboxEngine

    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        self.kodmobi = fresh_sandbox()

    def kodmobi_code(self, to: str | None = None) -> str:
        return last_code(to)
