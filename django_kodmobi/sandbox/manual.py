"""The manual flow: delivering a code the site made, and saying how it went.

A message is ``sent`` when accepted and ``delivered`` ``delivery_seconds``
later on the sandbox clock, or ``failed`` if its destination was told to
fail (:meth:`ManualDesk.fail_deliveries_to`). When it reaches one of those
final states, the sandbox POSTs it to the message's ``callback_url`` as
JSON (``id``, ``channel``, ``status``, ``error``), as kod.mobi does;
:meth:`ManualDesk.run_callbacks` makes the calls that are due (the HTTP
server runs it several times a second). Callback faults: ``slow`` waits
before calling, ``lost`` never calls; a refused or failing callback is
retried ``callback_attempts`` times, a second apart, then given up.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallbackAttempt", "ManualDesk", "ManualMessageState"]

#: kod.mobi delivers codes of 4 to 6 digits in the manual flow.
MANUAL_CODE = re.compile(r"[0-9]{4,6}")

#: Posts ``body`` to ``url``; returns the HTTP status or raises OSError.
Sender = Callable[[str, bytes], int]


@dataclass
class ManualMessageState:
    id: int
    to: str
    channel: str
    sent_at: float
    fails: bool
    callback_url: str | None
    #: Callback calls made so far, and when the next one is due.
    attempts: int = 0
    next_call_at: float | None = None
    done: bool = False


@dataclass(frozen=True)
class CallbackAttempt:
    message_id: int
    url: str
    status: str
    #: The HTTP status the site answered, or the error (connection refused).
    outcome: str


def post_json(url: str, body: bytes) -> int:
    """POST ``body`` to a loopback ``url`` (the sandbox never leaves it)."""
    if not url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise OSError("the sandbox calls back on loopback only")
    request = urllib.request.Request(  # noqa: S310 - loopback http, checked above
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@dataclass
class ManualDesk:
    clock: Callable[[], float]
    delivery_seconds: float = 1.0
    callback_attempts: int = 3
    sender: Sender = post_json
    #: Extra seconds before each callback (the ``slow`` fault).
    callback_delay: float = 0.0
    #: Never call back (the ``lost`` fault).
    callbacks_lost: bool = False
    log: list[CallbackAttempt] = field(default_factory=list)
    _messages: dict[int, ManualMessageState] = field(default_factory=dict)
    _failing: set[str] = field(default_factory=set)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def fail_deliveries_to(self, to: str, fail: bool = True) -> None:
        """Make messages to ``to`` fail (or deliver again)."""
        with self._lock:
            (self._failing.add if fail else self._failing.discard)(to)

    def accept(
        self, message_id: int, to: str, channel: str, callback_url: str | None
    ) -> None:
        now = self.clock()
        with self._lock:
            state = ManualMessageState(
                message_id, to, channel, now, to in self._failing, callback_url
            )
            if callback_url:
                state.next_call_at = self._final_at(state) + self.callback_delay
            self._messages[message_id] = state

    def status(self, message_id: int) -> dict[str, Any] | None:
        with self._lock:
            state = self._messages.get(message_id)
            return None if state is None else self._as_json(state)

    def run_callbacks(self) -> int:
        """Make the callback calls that are due; return how many were made."""
        now = self.clock()
        with self._lock:
            due = [
                state
                for state in self._messages.values()
                if not state.done
                and state.next_call_at is not None
                and state.next_call_at <= now
            ]
            for state in due:  # claimed before calling, outside the lock
                state.next_call_at = None
        made = 0
        for state in due:
            if self.callbacks_lost:
                continue
            made += 1
            self._call(state)
        return made

    def _call(self, state: ManualMessageState) -> None:
        payload = self._as_json(state)
        assert state.callback_url is not None
        try:
            code = self.sender(state.callback_url, json.dumps(payload).encode())
            outcome, ok = str(code), 200 <= code < 300
        except OSError as error:
            outcome, ok = f"error: {error}", False
        with self._lock:
            state.attempts += 1
            self.log.append(
                CallbackAttempt(
                    state.id, state.callback_url, payload["status"], outcome
                )
            )
            if ok or state.attempts >= self.callback_attempts:
                state.done = True
            else:
                state.next_call_at = self.clock() + 1

    def _final_at(self, state: ManualMessageState) -> float:
        return state.sent_at + self.delivery_seconds

    def _as_json(self, state: ManualMessageState) -> dict[str, Any]:
        final = self.clock() >= self._final_at(state)
        if not final:
            status, error = "sent", None
        elif state.fails:
            status, error = "failed", "ERROR_DELIVERY_FAILED"
        else:
            status, error = "delivered", None
        return {
            "id": state.id,
            "channel": state.channel,
            "status": status,
            "error": error,
        }


def run_callbacks_every(
    desk: ManualDesk, seconds: float, stop: threading.Event
) -> threading.Thread:
    """A daemon thread that runs ``desk``'s callbacks until ``stop`` is set."""

    def loop() -> None:
        while not stop.wait(seconds):
            desk.run_callbacks()

    thread = threading.Thread(target=loop, name="sandbox-callbacks", daemon=True)
    thread.start()
    return thread
