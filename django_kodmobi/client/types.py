"""Frozen value objects for every kod.mobi reply.

Each has a ``from_payload`` constructor that checks the fields it needs and
raises :class:`~django_kodmobi.client.exceptions.KodMobiResponseError` when the
reply has the wrong shape. Unknown fields are ignored, and the whole decoded
reply stays available as ``raw`` so new fields can be read before this module
learns about them.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .exceptions import KodMobiResponseError

__all__ = [
    "Channel",
    "ChallengeSettings",
    "CheckResult",
    "CodeFormat",
    "ManualChannel",
    "ManualMessage",
    "ManualProvider",
    "ManualSendResult",
    "ProjectSettings",
    "SendResult",
    "Session",
    "SessionChannel",
    "Verification",
    "parse_datetime",
    "safe_link",
]

Raw = Mapping[str, Any]
_T = TypeVar("_T")


class Channel(str, enum.Enum):
    """The channel types kod.mobi documents.

    Replies keep a channel type as a plain string, so a type added by the
    service later passes through instead of breaking a login; compare with
    these members (``channel.type == Channel.TELEGRAM``).
    """

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    SMS = "sms"
    EMAIL = "email"

    def __str__(self) -> str:
        return self.value


#: A kod.mobi id (a ULID today): short, plain characters, nothing to escape.
_ID = re.compile(r"[0-9A-Za-z_-]{1,32}")
#: A channel type: lower-case letters, as short as the app's column allows.
_CHANNEL_TYPE = re.compile(r"[a-z][a-z0-9_]{0,15}")
#: The most seconds a channel timeout may count (kod.mobi's are a minute).
MAX_TIMEOUT = 3600
#: Hosts a plain ``http:`` link may point at: the local sandbox only.
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def safe_link(value: object) -> str:
    """``value`` if it is an ``https:`` URL (or ``http:`` on loopback), else "".

    Links and icons from kod.mobi end up in ``href`` and ``src`` attributes
    and in API replies: a ``javascript:`` or ``data:`` URL must never get
    there, whoever wrote the reply.
    """
    if not isinstance(value, str) or len(value) > 2048 or not value.isprintable():
        return ""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        return ""
    if parts.scheme == "https" and host:
        return value
    if parts.scheme == "http" and (
        host in _LOOPBACK_HOSTS or host.endswith(".invalid")
    ):
        return value  # the sandbox, on this machine or in-process
    return ""


def _identifier(data: Raw, name: str) -> str:
    value = _get(data, name, str)
    if not _ID.fullmatch(value):
        raise KodMobiResponseError(f"field {name!r} is not a kod.mobi id")
    return value


def _channel_type(value: object) -> str:
    if not isinstance(value, str) or not _CHANNEL_TYPE.fullmatch(value):
        raise KodMobiResponseError("a channel type is missing or malformed")
    return value


def parse_datetime(value: object, name: str = "datetime") -> datetime:
    """Parse an ISO 8601 timestamp with an offset into an aware UTC datetime."""
    if not isinstance(value, str) or len(value) > 64:
        raise KodMobiResponseError(f"{name} is not a string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        # datetime.fromisoformat() learned "Z" only in Python 3.11.
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise KodMobiResponseError(f"{name} has no UTC offset: {value!r}")
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        # OverflowError: year 9999 with an offset falls off the calendar.
        raise KodMobiResponseError(f"{name} is not ISO 8601: {value!r}") from exc


def _get(data: Raw, name: str, kind: type[_T]) -> _T:
    value = data.get(name)
    # bool is an int subclass; a JSON true is never a count.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise KodMobiResponseError(f"field {name!r} is missing or not {kind.__name__}")
    return value


def _optional_str(data: Raw, name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


def _mapping(data: object, name: str) -> Raw:
    if not isinstance(data, Mapping):
        raise KodMobiResponseError(f"{name} is not a JSON object")
    return data


def _list(data: object, name: str) -> list[Any]:
    if not isinstance(data, list):
        raise KodMobiResponseError(f"{name} is not a JSON array")
    return data


@dataclass(frozen=True)
class SessionChannel:
    """A channel as kod.mobi shows it for a session or a project."""

    name: str
    type: str
    is_active: bool
    #: Seconds before this channel may send again (0 when it may send now).
    timeout: int
    image_url: str = ""
    link: str = ""
    description: str = ""
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: object) -> SessionChannel:
        data = _mapping(data, "channel")
        timeout = data.get("timeout", 0)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
        ):
            raise KodMobiResponseError("field 'timeout' is not a number")
        kind = _channel_type(data.get("type"))
        return cls(
            name=(_optional_str(data, "name") or kind)[:64],
            type=kind,
            is_active=_get(data, "is_active", bool),
            timeout=max(0, min(MAX_TIMEOUT, int(timeout))),
            image_url=safe_link(data.get("image_url")),
            link=safe_link(data.get("link")),
            description=_optional_str(data, "description")[:512],
            raw=data,
        )

    @classmethod
    def list_from_payload(cls, data: object) -> tuple[SessionChannel, ...]:
        return tuple(cls.from_payload(item) for item in _list(data, "channels"))


@dataclass(frozen=True)
class Session:
    """The reply to *create session*."""

    session_id: str
    expires_at: datetime
    #: The channel the code went to, or ``None`` when nothing was sent.
    sent_to: str | None
    channels: tuple[SessionChannel, ...]
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: object) -> Session:
        data = _mapping(data, "reply")
        sent_to = data.get("sent_to")
        sent_to = None if sent_to in (None, "", "none") else _channel_type(sent_to)
        return cls(
            session_id=_identifier(data, "session_id"),
            expires_at=parse_datetime(
                data.get("session_expired_at"), "session_expired_at"
            ),
            sent_to=sent_to,
            channels=SessionChannel.list_from_payload(data.get("channels", [])),
            raw=data,
        )


@dataclass(frozen=True)
class SendResult:
    """The reply to *send*: the channel used, with its new block timeout."""

    session_id: str
    expires_at: datetime
    channel: SessionChannel
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: object) -> SendResult:
        data = _mapping(data, "reply")
        return cls(
            session_id=_identifier(data, "session_id"),
            expires_at=parse_datetime(
                data.get("session_expired_at"), "session_expired_at"
            ),
            channel=SessionChannel.from_payload(data.get("channel")),
            raw=data,
        )


@dataclass(frozen=True)
class CheckResult:
    """The reply to a correct code: a token the server redeems with *verify*."""

    verify_token: str = field(repr=False)
    is_test: bool = False
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: object) -> CheckResult:
        data = _mapping(data, "reply")
        token = _get(data, "verify_token", str)
        if not 0 < len(token) <= 512:
            raise KodMobiResponseError("field 'verify_token' is empty or too long")
        is_test = data.get("is_test", False)
        return cls(verify_token=token, is_test=is_test is True, raw=data)


@dataclass(frozen=True)
class Verification:
    """The reply to the server-side *verify*: who proved ownership of what."""

    #: The verified phone number or email address, as kod.mobi returns it.
    destination: str
    session_id: str = ""
    sent_to: str = ""
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: object) -> Verification:
        body = _mapping(data, "reply")
        envelope = body.get("data")
        if body.get("success") is True and isinstance(envelope, Mapping):
            body = envelope  # The v1 {"success": true, "data": {...}} envelope.
        for name in ("to", "phone", "email"):
            destination = body.get(name)
            if isinstance(destination, str) and 0 < len(destination.strip()) <= 254:
                break
        else:
            # Fail closed: a verify without a destination proves nothing.
            raise KodMobiResponseError("verify reply names no destination")
        session_id = _optional_str(body, "session_id")
        if session_id and not _ID.fullmatch(session_id):
            raise KodMobiResponseError("field 'session_id' is not a kod.mobi id")
        sent_to = _optional_str(body, "sent_to")
        return cls(
            destination=destination.strip(),
            session_id=session_id,
            sent_to=sent_to if _CHANNEL_TYPE.fullmatch(sent_to) else "",
            raw=body,
        )


@dataclass(frozen=True)
class CodeFormat:
    length: int
    digits: bool
    letters: bool


@dataclass(frozen=True)
class ChallengeSettings:
    enabled: bool
    #: The CAPTCHA site key for the browser widget, when enabled.
    api_key: str | None
    provider: str


@dataclass(frozen=True)
class ProjectSettings:
    """The reply to *settings*: project name, code format and CAPTCHA."""

    language: str
    project_name: str
    code: CodeFormat
    challenge: ChallengeSettings
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: object) -> ProjectSettings:
        data = _mapping(data, "reply")
        project = _mapping(data.get("project", {}), "project")
        code = _mapping(data.get("code"), "code")
        challenge = _mapping(data.get("challenge", {}), "challenge")
        api_key = challenge.get("api_key")
        return cls(
            language=_optional_str(data, "language"),
            project_name=_optional_str(project, "name"),
            code=CodeFormat(
                length=_get(code, "length", int),
                digits=code.get("digits", True) is True,
                letters=code.get("letters", False) is True,
            ),
            challenge=ChallengeSettings(
                enabled=challenge.get("enabled", False) is True,
                api_key=api_key if isinstance(api_key, str) else None,
                provider=_optional_str(challenge, "provider"),
            ),
            raw=data,
        )


@dataclass(frozen=True)
class ManualProvider:
    id: int
    name: str
    type: str
    is_system: bool

    @classmethod
    def from_payload(cls, data: object) -> ManualProvider:
        data = _mapping(data, "provider")
        return cls(
            id=_get(data, "id", int),
            name=_optional_str(data, "name"),
            type=_optional_str(data, "type"),
            is_system=data.get("is_system") is True,
        )


@dataclass(frozen=True)
class ManualChannel:
    """A channel of the manual flow and the providers that can deliver on it."""

    name: str
    type: str
    providers: tuple[ManualProvider, ...]
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def list_from_payload(cls, data: object) -> tuple[ManualChannel, ...]:
        channels = []
        for item in _list(data, "channels"):
            item = _mapping(item, "channel")
            channels.append(
                cls(
                    name=_optional_str(item, "name"),
                    type=_get(item, "type", str),
                    providers=tuple(
                        ManualProvider.from_payload(p)
                        for p in _list(item.get("providers", []), "providers")
                    ),
                    raw=item,
                )
            )
        return tuple(channels)


@dataclass(frozen=True)
class ManualSendResult:
    """The reply to *manual send*."""

    message_id: int
    message: str = ""
    #: The code as kod.mobi returns it: encrypted, treated as opaque.
    code: str = field(default="", repr=False)
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: object) -> ManualSendResult:
        data = _mapping(data, "reply")
        return cls(
            message_id=_get(data, "message_id", int),
            message=_optional_str(data, "message"),
            code=_optional_str(data, "code"),
            raw=data,
        )


@dataclass(frozen=True)
class ManualMessage:
    """The delivery state of a manual message."""

    id: int
    channel: str
    status: str
    error: str | None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: object) -> ManualMessage:
        if isinstance(data, list) and len(data) == 1:
            # The docs page says "an array"; accept a one-element array too.
            data = data[0]
        data = _mapping(data, "reply")
        error = data.get("error")
        return cls(
            id=_get(data, "id", int),
            channel=_optional_str(data, "channel"),
            status=_get(data, "status", str),
            error=error if isinstance(error, str) else None,
            raw=data,
        )
