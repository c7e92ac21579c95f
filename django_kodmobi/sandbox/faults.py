"""Faults the sandbox can be told to inject, per operation, at run time."""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "FaultKind", "FaultSet"]


class FaultKind(str, enum.Enum):
    #: Answer late, after doing the work (a client may time out meanwhile).
    LATENCY = "latency"
    #: Answer with an HTTP 5xx before doing any work.
    ERROR = "error"
    #: Do the work, then answer 200 with a body that is not valid JSON.
    MALFORMED = "malformed"
    #: Do the work, then close the connection without answering.
    DROP = "drop"
    #: Do the work, then send the reply one byte every ``latency`` seconds.
    DRIP = "drip"
    #: Do the work, then answer 200 with ``body`` instead of the reply (a
    #: reply of the wrong shape, values out of range).
    BODY = "body"


@dataclass
class Fault:
    """One fault: what, for which operations (all if empty), how many times."""

    kind: FaultKind
    operations: frozenset[str] = frozenset()
    #: Seconds of added delay, for ``latency``; between bytes, for ``drip``.
    latency: float = 1.0
    #: The HTTP status, for ``error``.
    status: int = 503
    #: The reply body, for ``body`` (at most 1 MiB).
    body: str = ""
    #: How many more requests it hits; ``None`` means until cleared.
    times: int | None = None
    id: int = field(default=0, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from the JSON the control endpoint accepts."""
        kind = FaultKind(data.get("kind"))
        operations = data.get("operations") or []
        times = data.get("times")
        status = int(data.get("status", 503))
        if not 500 <= status <= 599:
            raise ValueError("status must be a 5xx code")
        if times is not None and int(times) < 1:
            raise ValueError("times must be at least 1")
        latency = float(data.get("latency", 1.0))
        if not 0 <= latency <= 300:
            raise ValueError("latency must be between 0 and 300 seconds")
        if isinstance(operations, str) or not isinstance(operations, Iterable):
            raise ValueError("operations must be a list of names")
        body = data.get("body", "")
        if not isinstance(body, str) or len(body) > 1 << 20:
            raise ValueError("body must be a string of at most 1 MiB")
        return cls(
            kind=kind,
            operations=frozenset(str(op) for op in operations),
            latency=latency,
            status=status,
            body=body,
            times=None if times is None else int(times),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "operations": sorted(self.operations),
            "latency": self.latency,
            "status": self.status,
            "body": self.body[:200],
            "times": self.times,
        }


class FaultSet:
    """The active faults. The first one matching an operation fires."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, operation: str) -> Fault | None:
        """Return the fault to apply to ``operation`` and count it as used."""
        with self._lock:
            for fault in self._faults:
                if fault.operations and operation not in fault.operations:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None
