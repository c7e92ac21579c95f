"""The sandbox as a real HTTP server on loopback."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .engine import SandboxEngine
from .http import SandboxRequest
from .manual import run_callbacks_every

__all__ = ["SandboxServer"]

_MAX_BODY = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the
    # second waits for a delayed ACK (~40 ms a request on loopback).
    disable_nagle_algorithm = True

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address)
        answer = self.server.engine.handle(
            SandboxRequest(
                method=self.command,
                path=url.path,
                query=url.query,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                base_url=f"http://{host}",
            )
        )
        if answer.delay:
            time.sleep(answer.delay)
        if answer.drop:
            # Close without a byte of reply: the request was handled, the
            # caller cannot know.
            self.close_connection = True
            return
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if answer.drip:
                self._trickle(answer.body, answer.drip)
            else:
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            # The caller gave up (timed out) before the reply was ready.
            self.close_connection = True

    def _trickle(self, body: bytes, pause: float) -> None:
        """Send ``body`` a byte at a time, ``pause`` seconds apart."""
        self.wfile.flush()
        for index in range(len(body)):
            time.sleep(pause)
            self.wfile.write(body[index : index + 1])
            self.wfile.flush()

    do_GET = do_POST = do_DELETE = do_OPTIONS = do_PUT = do_PATCH = _answer

    def log_message(self, format: str, *args: object) -> None:
        if self.server.access_log:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    engine: SandboxEngine
    access_log: bool
    #: Connections accepted: a client that keeps its connections alive
    #: opens one, however many calls it makes.
    connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1  # the serving loop is one thread
        super().process_request(request, client_address)


class SandboxServer:
    """Serve ``engine`` on ``host:port`` (port 0 picks a free one).

    Use :meth:`start` / :meth:`stop` (or ``with``) to run it in a background
    thread, or :meth:`serve_forever` to run it in the current one.
    """

    def __init__(
        self,
        engine: SandboxEngine | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_log: bool = False,
    ) -> None:
        self.engine = engine or SandboxEngine()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.engine = self.engine
        self._httpd.access_log = access_log
        self._thread: threading.Thread | None = None
        # Manual-flow callbacks fall due on the sandbox clock; a ticker
        # makes them while the server runs.
        self._ticking = threading.Event()

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        return self._httpd.connections

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        self._start_callbacks()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="kodmobi-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the current thread until :meth:`stop` or an interrupt."""
        self._start_callbacks()
        try:
            self._httpd.serve_forever()
        finally:
            self._ticking.set()

    def _start_callbacks(self) -> None:
        run_callbacks_every(self.engine.project.manual, 0.2, self._ticking)

    def close(self) -> None:
        """Release the listening socket."""
        self._httpd.server_close()

    def stop(self) -> None:
        """Stop the thread :meth:`start` began and release the socket."""
        self._ticking.set()
        self._httpd.shutdown()
        self.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
