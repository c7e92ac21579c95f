"""The sandbox's transport-neutral request and response."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

__all__ = ["SandboxRequest", "SandboxResponse", "html_response", "json_response"]

_JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class SandboxRequest:
    method: str
    #: The path without the query string.
    path: str
    query: str = ""
    #: Header names in lower case.
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: ``scheme://host:port`` the client used, for links in replies.
    base_url: str = "http://127.0.0.1"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str:
        values = parse_qs(self.query).get(name)
        return values[0] if values else ""


@dataclass
class SandboxResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    #: Seconds the transport waits before answering.
    delay: float = 0.0
    #: Close the connection instead of answering.
    drop: bool = False
    #: Seconds between the body's bytes: a reply that trickles in.
    drip: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(status: int, payload: Any) -> SandboxResponse:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return SandboxResponse(status, {"Content-Type": _JSON}, body)


def html_response(text: str) -> SandboxResponse:
    return SandboxResponse(
        200, {"Content-Type": "text/html; charset=utf-8"}, text.encode()
    )
