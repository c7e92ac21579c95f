"""A faithful local kod.mobi, for development, demos and tests.

Django-free. Run it as a loopback server (``python -m django_kodmobi.sandbox``)
or mount it in-process with :func:`sandbox_client` / :class:`SandboxAdapter`.
"""

from __future__ import annotations

from .adapter import SANDBOX_URL, SandboxAdapter, sandbox_client
from .config import (
    DEFAULT_PUBLIC_KEY,
    DEFAULT_SECRET_KEY,
    TEST_DESTINATION_BLOCKED,
    TEST_DESTINATIONS,
    SandboxConfig,
)
from .engine import SandboxEngine
from .faults import Fault, FaultKind
from .http import SandboxRequest, SandboxResponse
from .inbox import Inbox, Message
from .server import SandboxServer

__all__ = [
    "DEFAULT_PUBLIC_KEY",
    "DEFAULT_SECRET_KEY",
    "SANDBOX_URL",
    "TEST_DESTINATIONS",
    "TEST_DESTINATION_BLOCKED",
    "Fault",
    "FaultKind",
    "Inbox",
    "Message",
    "SandboxAdapter",
    "SandboxConfig",
    "SandboxEngine",
    "SandboxRequest",
    "SandboxResponse",
    "SandboxServer",
    "sandbox_client",
]
