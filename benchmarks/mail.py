"""Mail for allauth's login by code, delivered two ways.

django-kodmobi delivers a code by calling kod.mobi, on loopback in the
benchmarks; allauth delivers its own by mail. By default the benchmarks
keep allauth's mail in memory (Django's test outbox: no delivery at all).
:func:`smtp_server` and :func:`delivering_to` let a variant deliver it the
way a site would, to an SMTP server on loopback (aiosmtpd, ``pip install -e
'.[bench]'``), so that both logins hand their code to a local service.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as MemoryBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import EmailMessage


class BenchEmailBackend(BaseEmailBackend):
    """The test outbox, or SMTP to loopback while :func:`delivering_to` is
    in effect.

    A backend, not a settings override per login: overriding settings
    sends signals, whose cost would fall on allauth's time.
    """

    smtp_port: int | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        port = BenchEmailBackend.smtp_port
        self.delivery: BaseEmailBackend = (
            SMTPBackend(host="127.0.0.1", port=port, use_tls=False, **kwargs)
            if port is not None
            else MemoryBackend(**kwargs)
        )

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        return self.delivery.send_messages(email_messages)


class _Sink:
    """Accepts every message and keeps a count."""

    def __init__(self, port: int, delay: float) -> None:
        self.port = port
        self.delay = delay
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received += 1
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(delay: float = 0) -> Iterator[_Sink]:
    """An SMTP server on loopback, in a thread (as the sandbox is); with
    ``delay``, it accepts each message that many seconds later, as a mail
    server across the internet would."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = _Sink(port, delay)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@contextmanager
def delivering_to(sink: _Sink) -> Iterator[None]:
    """Mail sent meanwhile goes to ``sink`` over SMTP."""
    BenchEmailBackend.smtp_port = sink.port
    try:
        yield
    finally:
        BenchEmailBackend.smtp_port = None
