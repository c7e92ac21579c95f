"""The kod.mobi behaviour itself: sessions, codes, channels, tokens.

This module knows nothing of HTTP. Each public method takes already-decoded
arguments, changes state and returns the JSON-ready reply, or raises
:class:`Refusal` with the ``sys_message`` the real service would answer.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ulid import ULID

from .config import SandboxConfig
from .inbox import Inbox, format_timestamp
from .manual import MANUAL_CODE, ManualDesk

__all__ = ["Refusal", "SandboxProject"]

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_KNOWN_CHANNELS = ("telegram", "whatsapp", "sms", "email")


class Refusal(Exception):
    """The answer is an error: ``sys_message``, HTTP ``status``, ``params``."""

    def __init__(self, sys_message: str, status: int = 400, **params: Any) -> None:
        super().__init__(sys_message)
        self.sys_message = sys_message
        self.status = status
        self.params = params


@dataclass
class _Session:
    id: str
    to: str
    code: str
    expires_at: float
    blocked_until: dict[str, float] = field(default_factory=dict)
    wrong_codes: int = 0
    blocked: bool = False
    #: Set once the right code was checked; the session is then finished.
    verify_token: str = ""
    sent_to: str = ""
    #: Codes checked, right or wrong (GET /sandbox/sessions).
    checks: int = 0


class SandboxProject:
    """One kod.mobi project's state. Thread-safe; ``clock`` returns epoch seconds."""

    def __init__(
        self, config: SandboxConfig, inbox: Inbox, clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.inbox = inbox
        self.clock = clock
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._live_by_destination: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._last_channel: dict[str, str] = {}
        self._reachable: dict[str, set[str]] = {
            to: set(channels) for to, channels in config.users.items()
        }
        #: Manual messages, their delivery and their callbacks.
        self.manual = ManualDesk(clock, delivery_seconds=config.manual_delivery_seconds)
        self._creates_since_sweep = 0
        #: Wrong codes per destination across sessions, and blocks.
        self._destination_wrong: dict[str, int] = {}
        self._destination_blocked_until: dict[str, float] = {}

    # -- configuration at run time ----------------------------------------

    def connect(self, to: str, channel: str) -> None:
        """Make ``to`` reachable on ``channel`` (the user opened the bot)."""
        to = self._destination(to)
        self._channel_type(channel)
        with self._lock:
            self._reachable.setdefault(to, set(self._default_reachable(to))).add(
                channel
            )

    def set_reachable(self, to: str, channels: list[str]) -> None:
        to = self._destination(to)
        for channel in channels:
            self._channel_type(channel)
        with self._lock:
            self._reachable[to] = set(channels)

    def block(self, to: str, seconds: float | None = None) -> None:
        """Block ``to`` as 15 wrong codes would (``ERROR_PHONE_BLOCKED``), for
        ``seconds`` or the configured ``destination_block_seconds``."""
        to = self._destination(to)
        if seconds is None:
            seconds = self.config.destination_block_seconds
        with self._lock:
            self._destination_blocked_until[to] = self.clock() + seconds

    def code_for(self, to: str) -> str | None:
        """The back door for tests: the code of ``to``'s live session."""
        with self._lock:
            session = self._live_session_for(to)
            return session.code if session else None

    # -- session endpoints -------------------------------------------------

    def create(self, body: dict[str, Any], base_url: str) -> dict[str, Any]:
        to = self._destination(body.get("to"))
        requested = body.get("type")
        channel = None if requested is None else self._project_channel(requested)
        send = body.get("send", True)
        if not isinstance(send, bool):
            raise Refusal("ERROR_BAD_REQUEST")
        now = self.clock()
        with self._lock:
            self._maybe_sweep(now)
            self._check_destination_block(to, now)
            live = self._live_session_for(to)
            if live is not None:
                # kod.mobi hands back the live session and sends nothing new.
                return self._session_reply(live, "none", base_url)
            if not self.config.channels:
                raise Refusal("ERROR_PROJECT_HAS_NO_CHANNELS")
            if send:
                channel = channel or self._preferred_channel(to)
                self._check_deliverable(to, channel)
            session = _Session(
                id=str(ULID()),
                to=to,
                code=self._new_code(),
                expires_at=now + self.config.session_ttl,
            )
            self._sessions[session.id] = session
            self._live_by_destination[to] = session.id
            if not (send and channel):
                # send:false names no channel in the reply, even when asked for one.
                return self._session_reply(session, "none", base_url)
            self._deliver(session, channel, now)
            return self._session_reply(session, channel, base_url)

    def send(self, body: dict[str, Any], base_url: str) -> dict[str, Any]:
        session_id = _string(body.get("session_id"))
        channel = self._project_channel(body.get("type"))
        now = self.clock()
        with self._lock:
            session = self._usable_session(session_id, now)
            self._check_deliverable(session.to, channel)
            wait = session.blocked_until.get(channel, 0.0) - now
            if wait > 0:
                raise Refusal("ERROR_MESSAGE_ATTEMPT", 429, timeout=math.ceil(wait))
            self._deliver(session, channel, now)
            return {
                "session_id": session.id,
                "session_expired_at": format_timestamp(session.expires_at),
                "channel": self._channel_json(channel, session, now, base_url),
            }

    def channels(self, session_id: str, base_url: str) -> list[dict[str, Any]]:
        now = self.clock()
        with self._lock:
            session = self._usable_session(session_id, now) if session_id else None
            return [
                self._channel_json(channel, session, now, base_url)
                for channel in self.config.channels
            ]

    def check(self, body: dict[str, Any]) -> dict[str, Any]:
        session_id = _string(body.get("session_id"))
        code = _string(body.get("code")).strip()
        now = self.clock()
        with self._lock:
            session = self._usable_session(session_id, now)
            session.checks += 1
            if hmac.compare_digest(code.upper().encode(), session.code.encode()):
                session.verify_token = secrets.token_urlsafe(32)
                self._tokens[session.verify_token] = session.id
                self._live_by_destination.pop(session.to, None)
                self._destination_wrong.pop(session.to, None)
                return {"verify_token": session.verify_token, "is_test": True}
            session.wrong_codes += 1
            self._count_destination_failure(session.to, now)
            if session.wrong_codes >= self.config.max_wrong_codes:
                session.blocked = True
                self._live_by_destination.pop(session.to, None)
                raise Refusal("ERROR_BLOCKED", 429, count=session.wrong_codes)
            raise Refusal("ERROR_MESSAGE_WRONG_CODE", count=session.wrong_codes)

    def check_counts(self) -> dict[str, int]:
        """Codes checked per session, by session id (for fault runs that
        prove no session was checked past its budget)."""
        with self._lock:
            return {sid: session.checks for sid, session in self._sessions.items()}

    def settings(self, language: str) -> dict[str, Any]:
        config = self.config
        return {
            "language": language,
            "project": {"name": config.project_name},
            "code": {
                "length": config.code_length,
                "digits": True,
                "letters": config.code_letters,
            },
            "challenge": {
                "enabled": config.challenge_enabled,
                "api_key": config.challenge_site_key
                if config.challenge_enabled
                else None,
                "provider": config.challenge_provider,
            },
        }

    def verify(self, body: dict[str, Any]) -> dict[str, Any]:
        token = _string(body.get("verify_token"))
        now = self.clock()
        with self._lock:
            session = self._sessions.get(self._tokens.get(token, ""))
            # A token is single-use (forgotten once redeemed) and dies with
            # its session.
            if session is None or session.expires_at <= now:
                raise Refusal("ERROR_SESSION_EXPIRED")
            del self._tokens[token]
            return {
                "to": session.to,
                "session_id": session.id,
                "sent_to": session.sent_to or "none",
            }

    # -- manual flow ---------------------------------------------------------

    def manual_channels(self) -> list[dict[str, Any]]:
        return [
            {
                "name": self.config.channel_name(channel),
                "type": channel,
                "providers": [
                    {
                        "id": self._provider_id(channel),
                        "name": f"Sandbox {self.config.channel_name(channel)}",
                        "type": "sandbox",
                        "is_system": True,
                    }
                ],
            }
            for channel in self.config.channels
        ]

    def manual_send(self, body: dict[str, Any]) -> dict[str, Any]:
        to = self._destination(body.get("to"))
        channel = self._project_channel(body.get("channel"))
        provider_id = body.get("provider_id")
        if provider_id is not None and provider_id != self._provider_id(channel):
            raise Refusal("ERROR_BAD_REQUEST")
        code = body.get("code")
        if code is None:
            code = self._new_code()
        elif not isinstance(code, str) or not MANUAL_CODE.fullmatch(code):
            raise Refusal("ERROR_BAD_REQUEST")
        callback_url = body.get("callback_url")
        if callback_url is not None and not isinstance(callback_url, str):
            raise Refusal("ERROR_BAD_REQUEST")
        with self._lock:
            self._check_deliverable(to, channel)
            message = self.inbox.deliver(to, channel, code, self.clock(), None)
            self.manual.accept(message.id, to, channel, callback_url)
        return {
            "message": "Message queued for delivery.",
            # Opaque here, as in the app: a keyed digest stands in for the
            # service's encrypted copy of the code.
            "code": hmac.new(
                self.config.secret_key.encode(), code.encode(), hashlib.sha256
            ).hexdigest(),
            "message_id": message.id,
        }

    def manual_message(self, message_id: int) -> dict[str, Any]:
        state = self.manual.status(message_id)
        if state is None:
            raise Refusal("ERROR_MESSAGE_NOT_FOUND", 404)
        return state

    # -- helpers -----------------------------------------------------------

    def _destination(self, value: object) -> str:
        to = _string(value).strip()
        if _E164.fullmatch(to) or (len(to) <= 254 and _EMAIL.fullmatch(to)):
            return to
        raise Refusal("ERROR_BAD_REQUEST")

    @staticmethod
    def _channel_type(value: object) -> str:
        if value not in _KNOWN_CHANNELS:
            raise Refusal("ERROR_BAD_REQUEST")
        return str(value)

    def _project_channel(self, value: object) -> str:
        channel = self._channel_type(value)
        if channel not in self.config.channels:
            raise Refusal("ERROR_PROJECT_HAS_NO_CHANNEL")
        return channel

    def _default_reachable(self, to: str) -> frozenset[str]:
        if "@" in to:
            return self.config.email_channels
        return self.config.phone_channels

    def _is_reachable(self, to: str, channel: str) -> bool:
        reachable = self._reachable.get(to)
        if reachable is None:
            return channel in self._default_reachable(to)
        return channel in reachable

    def _check_destination_block(self, to: str, now: float) -> None:
        if to in self.config.blocked:  # always, and for the full time
            until = now + self.config.destination_block_seconds
        else:
            until = self._destination_blocked_until.get(to, 0.0)
        if until > now:
            raise Refusal("ERROR_PHONE_BLOCKED", 429, timeout=math.ceil(until - now))

    def _count_destination_failure(self, to: str, now: float) -> None:
        wrong = self._destination_wrong.get(to, 0) + 1
        if wrong >= self.config.destination_max_wrong_codes:
            self._destination_blocked_until[to] = (
                now + self.config.destination_block_seconds
            )
            wrong = 0
        self._destination_wrong[to] = wrong

    def _check_deliverable(self, to: str, channel: str | None) -> None:
        if self.config.balance_empty:
            raise Refusal("ERROR_WRONG_BALANCE", 402)
        if channel is None or not self._is_reachable(to, channel):
            raise Refusal("ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL")
        if channel == "sms" and to.startswith(self.config.sms_blocked_prefixes):
            raise Refusal("ERROR_CHANNEL_NOT_ALLOWED_COUNTRY")

    def _preferred_channel(self, to: str) -> str | None:
        """The channel ``to`` used last, else the first reachable one."""
        last = self._last_channel.get(to)
        if last in self.config.channels and self._is_reachable(to, last):
            return last
        return next(
            (ch for ch in self.config.channels if self._is_reachable(to, ch)), None
        )

    def _new_code(self) -> str:
        if self.config.fixed_code:
            return self.config.fixed_code.upper()
        alphabet = string.digits
        if self.config.code_letters:
            alphabet += string.ascii_uppercase
        return "".join(secrets.choice(alphabet) for _ in range(self.config.code_length))

    def _deliver(self, session: _Session, channel: str, now: float) -> None:
        session.blocked_until[channel] = now + self.config.channel_timeout
        session.sent_to = channel
        self._last_channel[session.to] = channel
        self.inbox.deliver(session.to, channel, session.code, now, session.id)

    def _live_session_for(self, to: str) -> _Session | None:
        session = self._sessions.get(self._live_by_destination.get(to, ""))
        if session is None or session.expires_at <= self.clock():
            return None
        return session

    def _usable_session(self, session_id: str, now: float) -> _Session:
        session = self._sessions.get(session_id)
        if session is None or session.expires_at <= now or session.verify_token:
            raise Refusal("ERROR_SESSION_EXPIRED")
        if session.blocked:
            raise Refusal("ERROR_BLOCKED", 429, count=session.wrong_codes)
        return session

    def _session_reply(
        self, session: _Session, sent_to: str, base_url: str
    ) -> dict[str, Any]:
        now = self.clock()
        return {
            "session_id": session.id,
            "session_expired_at": format_timestamp(session.expires_at),
            "sent_to": sent_to,
            "channels": [
                self._channel_json(channel, session, now, base_url)
                for channel in self.config.channels
            ],
        }

    def _channel_json(
        self, channel: str, session: _Session | None, now: float, base_url: str
    ) -> dict[str, Any]:
        if session is None:
            is_active, timeout = True, 0
        else:
            timeout = max(0, math.ceil(session.blocked_until.get(channel, 0.0) - now))
            # Like kod.mobi: a channel counting down after a send is shown
            # inactive until it may send again.
            is_active = self._is_reachable(session.to, channel) and timeout == 0
        link = f"{base_url}/sandbox/connect/{channel}"
        if channel == "telegram" and self.config.telegram_bot_link:
            link = self.config.telegram_bot_link
        return {
            "name": self.config.channel_name(channel),
            "type": channel,
            "is_active": is_active,
            "timeout": timeout,
            "image_url": f"{base_url}/sandbox/icons/{channel}.svg",
            "link": link,
            "description": self.config.channel_description(channel),
        }

    def _provider_id(self, channel: str) -> int:
        return _KNOWN_CHANNELS.index(channel) + 1

    def _maybe_sweep(self, now: float) -> None:
        """Forget long-dead sessions now and then, so memory stays bounded."""
        self._creates_since_sweep += 1
        if self._creates_since_sweep < 256:
            return
        self._creates_since_sweep = 0
        dead = [s.id for s in self._sessions.values() if s.expires_at <= now]
        for session_id in dead:
            session = self._sessions.pop(session_id)
            self._tokens.pop(session.verify_token, None)
            if self._live_by_destination.get(session.to) == session_id:
                del self._live_by_destination[session.to]


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise Refusal("ERROR_BAD_REQUEST")
    return value
