"""A delay proxy: kod.mobi as far away as it really is.

The sandbox answers on loopback in a fraction of a millisecond; the real
kod.mobi is across the internet. :class:`DelayProxy` sits in front of the
sandbox and holds each reply ``delay`` seconds before passing it on, once
per request and reply exchange (the first bytes of a reply after bytes of a
request), on every connection alike. The request goes through at once; the
reply waits, as it would on a long road. Every variant that calls kod.mobi
through it waits the same.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class DelayProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_port``, each reply late by
    ``delay`` seconds. A context manager; ``url`` is its address."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closing = False

    def __enter__(self) -> DelayProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closing = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            asked = threading.Event()  # a request went up, its reply is due
            threading.Thread(
                target=self._pipe, args=(client, upstream, asked, False), daemon=True
            ).start()
            threading.Thread(
                target=self._pipe, args=(upstream, client, asked, True), daemon=True
            ).start()

    def _pipe(
        self,
        source: socket.socket,
        sink: socket.socket,
        asked: threading.Event,
        replies: bool,
    ) -> None:
        try:
            while chunk := source.recv(65536):
                if not replies:
                    asked.set()
                elif asked.is_set():  # the first bytes of a reply
                    asked.clear()
                    time.sleep(self.delay)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
