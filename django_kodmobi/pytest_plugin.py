"""pytest fixtures for sites that log in with django_kodmobi.

Registered as a ``pytest11`` entry point, so installing django-kodmobi is
enough: no ``conftest.py`` lines. Each fixture gives the same fresh
in-process sandbox for the test that asks for it; nothing reaches kod.mobi.

``kodmobi_sandbox``
    the :class:`~django_kodmobi.sandbox.SandboxEngine` answering for
    kod.mobi (``.advance(180)`` expires a code, ``.calls`` counts requests).
``kodmobi_outbox``
    a function returning every :class:`~django_kodmobi.testing.SentCode`
    so far (to, channel, code, purpose), oldest first.
``kodmobi_code``
    ``kodmobi_code("+79991234567")``: the last code sent there.
``kodmobi_faults``
    :class:`~django_kodmobi.testing.KodMobiFaults`: ``down()``,
    ``slow(s)``, ``out_of_balance()``, ``no_channels()``, ``block(to)``,
    ``reachable_on(to, "sms")``.

They need Django configured (pytest-django does it) and, for the outbox,
the database (``@pytest.mark.django_db`` or the ``db`` fixture). Django is
imported only when a fixture is used, so the plugin costs nothing in
projects that do not use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from django_kodmobi.sandbox import SandboxEngine
    from django_kodmobi.testing import KodMobiFaults, SentCode


@pytest.fixture
def kodmobi_sandbox() -> Iterator[SandboxEngine]:
    """A fresh in-process kod.mobi sandbox, answering for kod.mobi in this test."""
    from django_kodmobi.testing import sandbox_settings

    with sandbox_settings() as engine:
        yield engine


@pytest.fixture
def kodmobi_outbox(
    kodmobi_sandbox: SandboxEngine,
) -> Callable[[], list[SentCode]]:
    """``kodmobi_outbox()``: every code sent in this test, oldest first."""
    from django_kodmobi.testing import outbox

    return lambda: outbox(kodmobi_sandbox)


@pytest.fixture
def kodmobi_code(kodmobi_sandbox: SandboxEngine) -> Callable[[str], str]:
    """``kodmobi_code(to)``: the last code sent to ``to`` (an AssertionError if none)."""
    from django_kodmobi.testing import last_code

    return last_code


@pytest.fixture
def kodmobi_faults(kodmobi_sandbox: SandboxEngine) -> KodMobiFaults:
    """Switches that make kod.mobi fail for the rest of this test."""
    from django_kodmobi.testing import KodMobiFaults

    return KodMobiFaults(kodmobi_sandbox)
