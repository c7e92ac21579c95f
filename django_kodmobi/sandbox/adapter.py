"""Mount the sandbox in-process as a ``requests`` transport adapter.

The real :class:`~django_kodmobi.client.KodMobiClient` then runs unchanged,
headers, JSON, errors and all, with no socket: the fast way to test.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import ProtocolError

from django_kodmobi.client import KodMobiClient

from .engine import SandboxEngine
from .http import SandboxRequest

__all__ = ["SANDBOX_URL", "SandboxAdapter", "sandbox_client"]

#: The base URL the in-process sandbox answers on; any URL would do.
SANDBOX_URL = "http://sandbox.kodmobi.invalid"


class SandboxAdapter(BaseAdapter):
    """A transport adapter that answers from a :class:`SandboxEngine`.

    Latency faults honour the caller's read timeout: a reply later than the
    timeout raises :class:`requests.ReadTimeout` after waiting that long, as
    a socket would. ``sleep`` can be replaced to make tests instant.
    """

    def __init__(
        self, engine: SandboxEngine, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        super().__init__()
        self.engine = engine
        self._sleep = sleep

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body or b""
        answer = self.engine.handle(
            SandboxRequest(
                method=(request.method or "GET").upper(),
                path=url.path or "/",
                query=url.query,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body.encode() if isinstance(body, str) else body,
                base_url=f"{url.scheme}://{url.netloc}",
            )
        )
        read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
        if answer.delay:
            if read_timeout is not None and answer.delay > read_timeout:
                self._sleep(read_timeout)
                raise requests.ReadTimeout("sandbox reply later than the timeout")
            self._sleep(answer.delay)
        if answer.drop:
            raise requests.ConnectionError(
                ProtocolError(
                    "Connection aborted.",
                    RemoteDisconnected("Remote end closed connection without response"),
                ),
                request=request,
            )
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = (
            _Trickle(answer.body, answer.drip, self._sleep)
            if answer.drip
            else io.BytesIO(answer.body)
        )
        response.url = request.url or ""
        response.request = request
        response.reason = "OK" if answer.status < 400 else "Error"
        return response

    def close(self) -> None:
        pass


class _Trickle(io.RawIOBase):
    """A body that arrives one byte every ``pause`` seconds."""

    def __init__(
        self, body: bytes, pause: float, sleep: Callable[[float], None]
    ) -> None:
        super().__init__()
        self._body = body
        self._pause = pause
        self._sleep = sleep
        self._sent = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._sent >= len(self._body):
            return 0
        self._sleep(self._pause)
        buffer[0] = self._body[self._sent]
        self._sent += 1
        return 1

    def read1(self, size: int = -1) -> bytes:
        return self.read(1)


def sandbox_client(
    engine: SandboxEngine | None = None, **options: Any
) -> KodMobiClient:
    """Return a :class:`KodMobiClient` wired to ``engine`` in-process.

    The client gets the sandbox's keys unless ``options`` name others; a
    ``sleep`` option also paces the sandbox's latency and drip faults.
    """
    engine = engine or SandboxEngine()
    options.setdefault("public_key", engine.config.public_key)
    options.setdefault("secret_key", engine.config.secret_key)
    options.setdefault("base_url", SANDBOX_URL)
    client = KodMobiClient(**options)
    # One ``sleep`` for the client's backoff and the sandbox's simulated
    # latency, so a test that makes waiting instant makes all of it instant.
    sleep = options.get("sleep", time.sleep)
    client.session.mount(client.base_url, SandboxAdapter(engine, sleep=sleep))
    return client
