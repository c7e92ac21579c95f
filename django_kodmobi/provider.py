"""The bridge from Django settings to the Django-free kod.mobi client.

One client (one connection pool) per distinct configuration per process, so
connections to kod.mobi are reused across requests.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import get_language

from .client import KodMobiClient
from .conf import settings
from .sandbox import SANDBOX_URL, SandboxAdapter, SandboxConfig, SandboxEngine

__all__ = ["get_client", "get_sandbox", "kodmobi_language", "reset"]

_lock = threading.Lock()
_clients: dict[tuple[Any, ...], KodMobiClient] = {}
_sandbox: SandboxEngine | None = None
_sandbox_options_used: dict[str, Any] = {}


def _sandbox_options() -> Mapping[str, Any]:
    value = settings.get("SANDBOX")
    return value if isinstance(value, Mapping) else {}


def get_sandbox() -> SandboxEngine:
    """The process's in-process sandbox (``KODMOBI["SANDBOX"]``).

    ``SANDBOX`` may be ``True`` or a dict of
    :class:`~django_kodmobi.sandbox.SandboxConfig` fields. The sandbox takes
    the configured keys and code length, so it answers the app's client.
    """
    global _sandbox, _sandbox_options_used
    options: dict[str, Any] = {"code_length": settings.CODE_LENGTH}
    if settings.PUBLIC_KEY:
        options["public_key"] = settings.PUBLIC_KEY
    if settings.SECRET_KEY:
        options["secret_key"] = settings.SECRET_KEY
    options.update(_sandbox_options())
    with _lock:
        # Kept across settings changes that do not touch it, so a test can
        # override other settings halfway through a flow.
        if _sandbox is None or options != _sandbox_options_used:
            _sandbox = SandboxEngine(SandboxConfig(**options))
            _sandbox_options_used = options
        return _sandbox


def get_client() -> KodMobiClient:
    """Return the shared :class:`KodMobiClient` for the current settings."""
    key = (
        settings.API_URL,
        settings.PUBLIC_KEY,
        settings.SECRET_KEY,
        tuple(sorted(settings.PATHS.items())),
        settings.TIMEOUT,
        settings.DEADLINE,
        settings.MAX_RETRIES,
        settings.CHALLENGE_HEADER,
        settings.SANDBOX,
    )
    client = _clients.get(key)
    if client is not None:
        return client
    engine = get_sandbox() if settings.SANDBOX else None
    client = KodMobiClient(
        # The in-process sandbox takes the configured keys, or its own.
        settings.PUBLIC_KEY or (engine.config.public_key if engine else ""),
        settings.SECRET_KEY or (engine.config.secret_key if engine else None),
        base_url=SANDBOX_URL if engine else settings.API_URL,
        paths=settings.PATHS,
        timeout=settings.TIMEOUT,
        deadline=settings.DEADLINE,
        max_retries=settings.MAX_RETRIES,
        challenge_header=settings.CHALLENGE_HEADER,
    )
    if engine is not None:
        client.session.mount(SANDBOX_URL, SandboxAdapter(engine))
    with _lock:
        return _clients.setdefault(key, client)


def kodmobi_language() -> str:
    """The ``Accept-Language`` for kod.mobi: ``ru`` or ``en``, from the request."""
    return "ru" if (get_language() or "").lower().startswith("ru") else "en"


def reset(*, sandbox: bool = True) -> None:
    """Forget the clients and, with ``sandbox``, the in-process sandbox."""
    global _sandbox
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
        if sandbox:
            _sandbox = None


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "KODMOBI":
        reset(sandbox=False)
