"""The kod.mobi operations: method, default path and which key each takes.

The paths for *check*, *settings* and *verify* are the project's choice where
the public docs are silent (``kodmobi-api.md`` §F1), so every path can be
overridden by name without a release.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_ENDPOINTS", "Endpoint", "KeyKind", "Operation", "build_endpoints"]


class KeyKind(str, enum.Enum):
    PUBLIC = "public"
    SECRET = "secret"  # noqa: S105 (a key kind, not a key)


class Operation(str, enum.Enum):
    CREATE = "create"
    SEND = "send"
    CHANNELS = "channels"
    CHECK = "check"
    SETTINGS = "settings"
    VERIFY = "verify"
    MANUAL_SEND = "manual_send"
    MANUAL_CHANNELS = "manual_channels"
    MANUAL_MESSAGE = "manual_message"


@dataclass(frozen=True)
class Endpoint:
    method: str
    #: The path, with ``{id}`` where a manual message id goes.
    path: str
    key: KeyKind


DEFAULT_ENDPOINTS: Mapping[Operation, Endpoint] = {
    Operation.CREATE: Endpoint("POST", "/session/create", KeyKind.PUBLIC),
    Operation.SEND: Endpoint("POST", "/session/send", KeyKind.PUBLIC),
    Operation.CHANNELS: Endpoint("GET", "/session/channels", KeyKind.PUBLIC),
    Operation.CHECK: Endpoint("POST", "/session/check", KeyKind.PUBLIC),
    Operation.SETTINGS: Endpoint("GET", "/session/settings", KeyKind.PUBLIC),
    Operation.VERIFY: Endpoint("POST", "/session/verify", KeyKind.SECRET),
    Operation.MANUAL_SEND: Endpoint("POST", "/manual/send", KeyKind.SECRET),
    Operation.MANUAL_CHANNELS: Endpoint("GET", "/manual/channels", KeyKind.SECRET),
    Operation.MANUAL_MESSAGE: Endpoint("GET", "/manual/message/{id}", KeyKind.SECRET),
}


def build_endpoints(
    overrides: Mapping[str, str] | None = None,
) -> dict[Operation, Endpoint]:
    """Return the endpoint table with ``overrides`` (operation name -> path)."""
    endpoints = dict(DEFAULT_ENDPOINTS)
    for name, path in (overrides or {}).items():
        try:
            operation = Operation(name)
        except ValueError:
            known = ", ".join(op.value for op in Operation)
            raise ValueError(
                f"unknown kod.mobi operation {name!r}; known: {known}"
            ) from None
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path for {name!r} must start with '/': {path!r}")
        default = endpoints[operation]
        endpoints[operation] = Endpoint(default.method, path, default.key)
    return endpoints
