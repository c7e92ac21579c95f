"""A typed, Django-free client for the kod.mobi HTTP API."""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import requests
from urllib3.exceptions import HTTPError, NewConnectionError, ReadTimeoutError

from django_kodmobi import __version__
from django_kodmobi.masking import mask_identifier

from .endpoints import Endpoint, KeyKind, Operation, build_endpoints
from .exceptions import (
    KodMobiAPIError,
    KodMobiConfigurationError,
    KodMobiConnectionError,
    KodMobiError,
    KodMobiResponseError,
    KodMobiTimeoutError,
    api_error_from_reply,
)
from .types import (
    CheckResult,
    ManualChannel,
    ManualMessage,
    ManualSendResult,
    ProjectSettings,
    SendResult,
    Session,
    SessionChannel,
    Verification,
)

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_CHALLENGE_HEADER", "KodMobiClient"]

logger = logging.getLogger("django_kodmobi.client")

DEFAULT_BASE_URL = "https://api.kod.mobi"
#: The only CAPTCHA header name seen in real kod.mobi client code.
DEFAULT_CHALLENGE_HEADER = "X-CF-TURNSTILE-TOKEN"
DEFAULT_TIMEOUT = (3.05, 10.0)
#: The most seconds one call may take in all: retries, waits and a reply
#: that trickles in byte by byte included.
DEFAULT_DEADLINE = 10.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
_RETRYABLE_STATUS = frozenset({502, 503, 504})

Timeout = float | tuple[float, float]
_R = TypeVar("_R")


class KodMobiClient:
    """Call kod.mobi over one pooled :class:`requests.Session`.

    ``public_key`` authenticates the session endpoints a browser could call
    too; ``secret_key`` (optional, server side only) authenticates *verify*
    and the manual flow. Every call has the ``(connect, read)`` ``timeout``.
    A call is retried, up to ``max_retries`` times with jittered exponential
    backoff, only when a retry cannot deliver a second message: when the
    connection was never established (any method), or for a GET after any
    transport failure or a 502/503/504. A POST whose request may have reached
    the service is never retried. ``deadline`` bounds a whole call, retries
    and a reply trickling in included: past it the call raises
    :class:`~django_kodmobi.client.exceptions.KodMobiTimeoutError`.

    ``paths`` overrides the path of any operation by name (``{"check":
    "/v2/check"}``); ``language`` (``en`` or ``ru``) is the default
    ``Accept-Language``, overridable per call.
    """

    def __init__(
        self,
        public_key: str,
        secret_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        paths: Mapping[str, str] | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_retries: int = 2,
        backoff: tuple[float, float] = (0.5, 5.0),
        language: str = "en",
        challenge_header: str = DEFAULT_CHALLENGE_HEADER,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(public_key, str) or not public_key.strip():
            raise ValueError("a kod.mobi public key is required")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        timeouts = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        if len(timeouts) != 2 or min(timeouts) <= 0:
            raise ValueError("timeout must be a positive number or (connect, read)")
        if max_retries < 0:
            raise ValueError("max_retries cannot be negative")
        if not deadline > 0:
            raise ValueError("deadline must be a positive number of seconds")
        self.base_url = base_url.rstrip("/")
        self.endpoints = build_endpoints(paths)
        self.timeout: tuple[float, float] = (float(timeouts[0]), float(timeouts[1]))
        self.deadline = float(deadline)
        self._clock: Callable[[], float] = time.monotonic
        self.max_retries = max_retries
        self.backoff = backoff
        self.language = language
        self.challenge_header = challenge_header
        self.max_response_bytes = max_response_bytes
        self._keys = {KeyKind.PUBLIC: public_key, KeyKind.SECRET: secret_key}
        self._own_session = session is None
        self.session = session or _session_for(self.base_url)
        self._sleep = sleep

    def __repr__(self) -> str:
        # Never the keys.
        return f"<KodMobiClient {self.base_url}>"

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool, if this client created it."""
        if self._own_session:
            self.session.close()

    def __enter__(self) -> KodMobiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- session endpoints (public key) ------------------------------------

    def create_session(
        self,
        to: str,
        *,
        channel: str | None = None,
        send: bool = True,
        language: str | None = None,
        challenge_token: str | None = None,
    ) -> Session:
        """Create (or get back the live) session for ``to`` and send the code.

        ``to`` is an E.164 phone number or an email address. Without
        ``channel`` kod.mobi picks the user's channel; with ``send=False``
        nothing is sent and :attr:`Session.sent_to` is ``None``.
        """
        body: dict[str, Any] = {"to": to, "send": send}
        if channel is not None:
            body["type"] = str(channel)
        return self._call(
            Operation.CREATE,
            Session.from_payload,
            json_body=body,
            language=language,
            challenge_token=challenge_token,
            destination=to,
        )

    def send_code(
        self,
        session_id: str,
        channel: str,
        *,
        language: str | None = None,
        challenge_token: str | None = None,
    ) -> SendResult:
        """Send the session's code (again) through ``channel``."""
        return self._call(
            Operation.SEND,
            SendResult.from_payload,
            json_body={"session_id": session_id, "type": str(channel)},
            language=language,
            challenge_token=challenge_token,
        )

    def get_channels(
        self, session_id: str | None = None, *, language: str | None = None
    ) -> tuple[SessionChannel, ...]:
        """List the channels of a session, or the project's without one."""
        return self._call(
            Operation.CHANNELS,
            SessionChannel.list_from_payload,
            params={"session_id": session_id or ""},
            language=language,
        )

    def check_code(
        self,
        session_id: str,
        code: str,
        *,
        language: str | None = None,
        challenge_token: str | None = None,
    ) -> CheckResult:
        """Check the code a user typed; on success return the verify token."""
        return self._call(
            Operation.CHECK,
            CheckResult.from_payload,
            json_body={"session_id": session_id, "code": code},
            language=language,
            challenge_token=challenge_token,
        )

    def get_settings(
        self, session_id: str | None = None, *, language: str | None = None
    ) -> ProjectSettings:
        """Return the project settings: code format and CAPTCHA."""
        return self._call(
            Operation.SETTINGS,
            ProjectSettings.from_payload,
            params={"session_id": session_id or ""},
            language=language,
        )

    # -- server-side endpoints (secret key) ---------------------------------

    def verify_token(
        self, verify_token: str, *, language: str | None = None
    ) -> Verification:
        """Redeem a verify token with the secret key; return what was verified.

        A reply that names no destination raises
        :class:`~django_kodmobi.client.exceptions.KodMobiResponseError`, so a
        caller can never mistake a malformed reply for a success.
        """
        return self._call(
            Operation.VERIFY,
            Verification.from_payload,
            json_body={"verify_token": verify_token},
            language=language,
        )

    def manual_send(
        self,
        to: str,
        channel: str,
        *,
        code: str | None = None,
        provider_id: int | None = None,
        callback_url: str | None = None,
        language: str | None = None,
    ) -> ManualSendResult:
        """Deliver ``code`` (or one kod.mobi makes) to ``to`` through ``channel``."""
        body: dict[str, Any] = {"to": to, "channel": str(channel)}
        if code is not None:
            body["code"] = code
        if provider_id is not None:
            body["provider_id"] = provider_id
        if callback_url is not None:
            body["callback_url"] = callback_url
        return self._call(
            Operation.MANUAL_SEND,
            ManualSendResult.from_payload,
            json_body=body,
            language=language,
            destination=to,
        )

    def manual_channels(
        self, *, language: str | None = None
    ) -> tuple[ManualChannel, ...]:
        """List the manual-flow channels and their providers."""
        return self._call(
            Operation.MANUAL_CHANNELS,
            ManualChannel.list_from_payload,
            language=language,
        )

    def manual_message(
        self, message_id: int, *, language: str | None = None
    ) -> ManualMessage:
        """Return the delivery state of a manual message."""
        return self._call(
            Operation.MANUAL_MESSAGE,
            ManualMessage.from_payload,
            path_args={"id": str(int(message_id))},
            language=language,
        )

    # -- plumbing -------------------------------------------------------------

    def _call(
        self,
        operation: Operation,
        parse: Callable[[Any], _R],
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        path_args: Mapping[str, str] | None = None,
        language: str | None = None,
        challenge_token: str | None = None,
        destination: str | None = None,
    ) -> _R:
        endpoint = self.endpoints[operation]
        started = time.monotonic()
        where = f" to={mask_identifier(destination)}" if destination else ""
        try:
            status, payload = self._request(
                endpoint,
                json_body=json_body,
                params=params,
                path_args=path_args,
                headers=self._headers(endpoint, language, challenge_token),
            )
            if status >= 400:
                raise api_error_from_reply(status, payload)
            if not 200 <= status < 300:
                raise KodMobiResponseError(f"unexpected HTTP {status}", status=status)
            result = parse(payload)
        except KodMobiError as exc:
            # A refusal is an ordinary outcome (a wrong code); a failure to get
            # any proper answer is worth a warning.
            logger.log(
                logging.INFO
                if isinstance(exc, KodMobiAPIError) and exc.status < 500
                else logging.WARNING,
                "kod.mobi %s%s failed after %.0f ms: %s",
                operation.value,
                where,
                (time.monotonic() - started) * 1000,
                exc,
            )
            raise
        logger.debug(
            "kod.mobi %s%s ok in %.0f ms",
            operation.value,
            where,
            (time.monotonic() - started) * 1000,
        )
        return result

    def _headers(
        self, endpoint: Endpoint, language: str | None, challenge_token: str | None
    ) -> dict[str, str]:
        key = self._keys[endpoint.key]
        if not key:
            raise KodMobiConfigurationError(
                "this call needs the kod.mobi secret key, and none was configured"
            )
        headers = {
            "x-api-key": key,
            "Accept": "application/json",
            "Accept-Language": language or self.language,
            "User-Agent": f"django-kodmobi/{__version__}",
            # Replies are read a chunk at a time within a deadline and a
            # size cap; a compressed one would slip past the cap.
            "Accept-Encoding": "identity",
        }
        if challenge_token:
            headers[self.challenge_header] = challenge_token
        return headers

    def _request(
        self,
        endpoint: Endpoint,
        *,
        json_body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        path_args: Mapping[str, str] | None,
        headers: Mapping[str, str],
    ) -> tuple[int, Any]:
        url = self.base_url + endpoint.path.format_map(path_args or {})
        is_get = endpoint.method == "GET"
        ends_at = self._clock() + self.deadline
        attempt = 0
        while True:
            connect, read = self.timeout
            try:
                response = self.session.request(
                    endpoint.method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    # No single wait may outlast the deadline either.
                    timeout=(connect, min(read, self._left(ends_at))),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.RequestException as exc:
                if attempt < self.max_retries and _may_retry(exc, is_get):
                    self._pause(attempt, ends_at)
                    attempt += 1
                    continue
                raise _transport_error(exc) from exc
            if (
                is_get
                and response.status_code in _RETRYABLE_STATUS
                and attempt < self.max_retries
            ):
                response.close()
                self._pause(attempt, ends_at)
                attempt += 1
                continue
            return response.status_code, self._read_json(response, ends_at)

    def _left(self, ends_at: float) -> float:
        """Seconds left before ``ends_at``; raise when none are."""
        left = ends_at - self._clock()
        if left <= 0:
            raise KodMobiTimeoutError(
                f"kod.mobi did not answer within the {self.deadline:g} s deadline"
            )
        return left

    def _pause(self, attempt: int, ends_at: float) -> None:
        first, cap = self.backoff
        delay = min(cap, first * 2**attempt)
        # Jitter keeps many workers from retrying in step.
        delay *= random.uniform(0.5, 1.0)
        # Give up now rather than wake up past the deadline.
        self._left(ends_at - delay)
        self._sleep(delay)

    def _read_json(self, response: requests.Response, ends_at: float) -> Any:
        status = response.status_code
        try:
            body = self._read_body(response, ends_at)
        except KodMobiError:
            raise
        # urllib3 raises its own errors while the body is read (requests
        # wraps them only inside iter_content): a stall past the read
        # timeout, or a connection closed or reset halfway through.
        except (requests.RequestException, ReadTimeoutError) as exc:
            raise _transport_error(exc) from exc
        except (HTTPError, OSError, ValueError) as exc:
            raise KodMobiConnectionError(
                f"kod.mobi reply broke off: {type(exc).__name__}"
            ) from exc
        finally:
            response.close()
        try:
            return decode_json(body)
        except KodMobiResponseError:
            if not 200 <= status < 300:
                # An HTML error page from a proxy: the status says enough.
                return None
            raise

    def _read_body(self, response: requests.Response, ends_at: float) -> bytes:
        """Read the reply within the deadline and the size cap.

        ``read1`` returns whatever has arrived, so a reply trickling in a
        byte at a time is seen arriving, and cut off at the deadline.
        """
        raw = response.raw
        read = getattr(raw, "read1", None) or raw.read
        body = bytearray()
        while True:
            # No single read may wait past the deadline: a reply trickling
            # in a byte just inside the read timeout would stretch it.
            _limit_next_wait(raw, min(self.timeout[1], self._left(ends_at)))
            chunk = read(8192)
            if not chunk:
                break
            body += chunk
            if len(body) > self.max_response_bytes:
                raise KodMobiResponseError(
                    f"reply larger than {self.max_response_bytes} bytes",
                    status=response.status_code,
                )
        if response.headers.get("Content-Encoding", "identity") != "identity":
            raise KodMobiResponseError(
                "reply is compressed although none was asked for",
                status=response.status_code,
            )
        return bytes(body)


def _limit_next_wait(raw: Any, seconds: float) -> None:
    """Make the next read of the reply ``raw`` (urllib3's) wait at most
    ``seconds``, on the socket it is read from (none for replies that are
    not read from one, such as the in-process sandbox's)."""
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


def decode_json(body: bytes) -> Any:
    """Decode a reply strictly: no NaN or Infinity, no endless nesting.

    :raises KodMobiResponseError: whatever is wrong with it.
    """
    try:
        return json.loads(
            body, parse_constant=_refuse_constant, parse_float=_finite_float
        )
    except (ValueError, RecursionError) as exc:
        raise KodMobiResponseError(f"reply is not JSON: {type(exc).__name__}") from exc


def _never_connected(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the service."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", exc.args[0])
        return isinstance(reason, NewConnectionError)
    return False


def _may_retry(exc: requests.RequestException, is_get: bool) -> bool:
    if isinstance(exc, requests.exceptions.SSLError):
        # A certificate problem does not heal in a second.
        return False
    if _never_connected(exc):
        return True
    # A GET sends nothing; a POST may already have sent a message.
    return is_get and isinstance(
        exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)
    )


def _transport_error(
    exc: requests.RequestException | ReadTimeoutError,
) -> KodMobiConnectionError:
    reason = getattr(exc.args[0], "reason", exc.args[0]) if exc.args else None
    if isinstance(exc, (requests.exceptions.Timeout, ReadTimeoutError)) or isinstance(
        reason, ReadTimeoutError
    ):
        return KodMobiTimeoutError(f"kod.mobi timed out: {type(exc).__name__}")
    return KodMobiConnectionError(f"kod.mobi unreachable: {type(exc).__name__}")


def _session_for(base_url: str) -> requests.Session:
    """A session that reads the environment (proxies, ``NO_PROXY``, CA
    bundle) once, for ``base_url``: requests would read it again on every
    request, a third of a kod.mobi call's own time on loopback."""
    session = requests.Session()
    found = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies.update(found["proxies"])
    session.verify = found["verify"]
    session.trust_env = False
    return session
