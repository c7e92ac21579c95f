"""Every message the sandbox "delivered", for people and tests to read."""

from __future__ import annotations

import sys
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TextIO

from django_kodmobi.masking import mask_identifier

__all__ = ["Inbox", "Message"]


@dataclass(frozen=True)
class Message:
    id: int
    to: str
    channel: str
    code: str
    sent_at: float
    #: The session the code belongs to, or ``None`` for a manual message.
    session_id: str | None

    @property
    def text(self) -> str:
        return f"Your login code: {self.code}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "to": self.to,
            "channel": self.channel,
            "code": self.code,
            "text": self.text,
            "session_id": self.session_id,
            "sent_at": format_timestamp(self.sent_at),
        }


def format_timestamp(timestamp: float) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as kod.mobi writes them."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Inbox:
    """A bounded, thread-safe list of delivered messages, newest last."""

    def __init__(
        self, *, echo: bool = True, stream: TextIO | None = None, limit: int = 1000
    ) -> None:
        self.echo = echo
        self._stream = stream
        self._messages: deque[Message] = deque(maxlen=limit)
        self._next_id = 1
        self._lock = threading.Lock()

    def deliver(
        self, to: str, channel: str, code: str, at: float, session_id: str | None
    ) -> Message:
        with self._lock:
            message = Message(self._next_id, to, channel, code, at, session_id)
            self._next_id += 1
            self._messages.append(message)
        if self.echo:
            # The code is what a developer needs to see; the destination is
            # masked like everywhere else this project prints one.
            stream = self._stream or sys.stderr
            print(
                f"[kod.mobi sandbox] {channel} -> {mask_identifier(to)}: code {code}",
                file=stream,
                flush=True,
            )
        return message

    def messages(self, to: str | None = None) -> list[Message]:
        with self._lock:
            return [m for m in self._messages if to is None or m.to == to]

    def last(self, to: str | None = None) -> Message | None:
        # Newest first: the message asked for is nearly always among the
        # last few, and the inbox holds up to ``limit``.
        with self._lock:
            newest_first = reversed(self._messages)
            return next((m for m in newest_first if to is None or m.to == to), None)

    def get(self, message_id: int) -> Message | None:
        with self._lock:
            return next((m for m in self._messages if m.id == message_id), None)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
