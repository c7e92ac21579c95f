"""The sandbox's request handling: routes, keys, bodies, errors, CORS, faults.

:class:`SandboxEngine` turns a :class:`SandboxRequest` into a
:class:`SandboxResponse`. The loopback HTTP server and the in-process
``requests`` adapter both call :meth:`SandboxEngine.handle`, so tests and
the demo exercise one implementation.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django_kodmobi.client.endpoints import KeyKind

from . import pages
from .config import SandboxConfig
from .faults import Fault, FaultKind, FaultSet
from .http import SandboxRequest, SandboxResponse, json_response
from .inbox import Inbox
from .project import Refusal, SandboxProject
from .texts import error_text, language_from_header

__all__ = ["SandboxEngine"]

_CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Accept-Language, Content-Type, "
    "x-api-key, {challenge}",
    "Access-Control-Max-Age": "600",
}


@dataclass(frozen=True)
class _Route:
    operation: str
    key: KeyKind
    handler: Callable[[SandboxProject, SandboxRequest, Any], Any]
    method: str


def _body(request: SandboxRequest) -> dict[str, Any]:
    # kod.mobi reads JSON whatever the Content-Type says: its own curl
    # examples send JSON as form data.
    try:
        data = json.loads(request.body or b"null")
    except ValueError:
        raise Refusal("ERROR_BAD_REQUEST") from None
    if not isinstance(data, dict):
        raise Refusal("ERROR_BAD_REQUEST")
    return data


_API_ROUTES: dict[str, _Route] = {}


def _route(
    operation: str, method: str, key: KeyKind, *paths: str
) -> Callable[
    [Callable[[SandboxProject, SandboxRequest, Any], Any]],
    Callable[[SandboxProject, SandboxRequest, Any], Any],
]:
    def register(
        handler: Callable[[SandboxProject, SandboxRequest, Any], Any],
    ) -> Callable[[SandboxProject, SandboxRequest, Any], Any]:
        for path in paths:
            _API_ROUTES[path] = _Route(operation, key, handler, method)
        return handler

    return register


@_route("create", "POST", KeyKind.PUBLIC, "/session/create", "/v2/create")
def _create(project: SandboxProject, request: SandboxRequest, lang: str) -> Any:
    return project.create(_body(request), request.base_url)


@_route("send", "POST", KeyKind.PUBLIC, "/session/send", "/v2/send")
def _send(project: SandboxProject, request: SandboxRequest, lang: str) -> Any:
    return project.send(_body(request), request.base_url)


@_route("channels", "GET", KeyKind.PUBLIC, "/session/channels", "/v2/channels")
def _channels(project: SandboxProject, request: SandboxRequest, lang: str) -> Any:
    return project.channels(request.param("session_id"), request.base_url)


@_route("check", "POST", KeyKind.PUBLIC, "/session/check", "/v2/check")
def _check(project: SandboxProject, request: SandboxRequest, lang: str) -> Any:
    return project.check(_body(request))


@_route("settings", "GET", KeyKind.PUBLIC, "/session/settings", "/v2/settings")
def _settings(project: SandboxProject, request: SandboxRequest, lang: str) -> Any:
    return project.settings(lang)


@_route("verify", "POST", KeyKind.SECRET, "/session/verify", "/v2/verify")
def _verify(project: SandboxProject, request: SandboxRequest, lang: str) -> Any:
    return project.verify(_body(request))


@_route("manual_send", "POST", KeyKind.SECRET, "/manual/send")
def _manual_send(project: SandboxProject, request: SandboxRequest, lang: str) -> Any:
    return project.manual_send(_body(request))


@_route("manual_channels", "GET", KeyKind.SECRET, "/manual/channels")
def _manual_channels(
    project: SandboxProject, request: SandboxRequest, lang: str
) -> Any:
    return project.manual_channels()


_MANUAL_MESSAGE = re.compile(r"/manual/message/([0-9]{1,18})")
_MANUAL_MESSAGE_ROUTE = _Route(
    "manual_message",
    KeyKind.SECRET,
    lambda project, request, lang: project.manual_message(
        int(request.path.rsplit("/", 1)[1])
    ),
    "GET",
)
#: Operations whose routes a browser may call directly.
_CHALLENGED = frozenset({"create", "send", "check"})


class SandboxEngine:
    """A complete local kod.mobi: the API, an inbox, faults and a clock.

    ``clock`` returns epoch seconds (default :func:`time.time`);
    :meth:`advance` moves the sandbox's time forward without sleeping.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        inbox: Inbox | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self._initial_config = replace(self.config)
        self._base_clock = clock
        self._offset = 0.0
        self.inbox = inbox or Inbox(echo=self.config.echo)
        self.faults = FaultSet()
        self.project = SandboxProject(self.config, self.inbox, self.now)
        #: Requests received per operation ("create", "check", ...), so a
        #: test can tell whether the app asked kod.mobi at all.
        self.calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()

    def now(self) -> float:
        return self._base_clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock ``seconds`` forward (expiry, timeouts)."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._offset += seconds

    #: What :meth:`configure` may change while the sandbox runs.
    RUNTIME_OPTIONS = frozenset({"balance_empty", "channels", "phone_channels"})

    def configure(self, **changes: Any) -> None:
        """Change the project while it runs: ``balance_empty=True`` (every send
        answers ``ERROR_WRONG_BALANCE``), ``channels=()`` (no channels:
        ``ERROR_PROJECT_HAS_NO_CHANNELS``) or ``phone_channels`` (where new
        phones are reachable). Undone by :meth:`reset`."""
        unknown = set(changes) - self.RUNTIME_OPTIONS
        if unknown:
            raise ValueError(f"not settable at run time: {', '.join(sorted(unknown))}")
        if "channels" in changes:
            changes["channels"] = tuple(changes["channels"])
        if "phone_channels" in changes:
            changes["phone_channels"] = frozenset(changes["phone_channels"])
        replace(self.config, **changes)  # validates them, as at start
        for name, value in changes.items():
            setattr(self.config, name, value)

    def restore(self) -> None:
        """Undo :meth:`configure`: the project as the sandbox started."""
        for name in self.RUNTIME_OPTIONS:
            setattr(self.config, name, getattr(self._initial_config, name))

    def reset(self) -> None:
        """Start again as a new engine on the same configuration: no
        sessions, messages, faults or counted calls, and nothing remembered
        per destination (its last channel, channels set at run time,
        blocks). For a sandbox shared by many tests, so that none depends on
        the ones before it. The clock keeps its offset."""
        self.inbox.clear()
        self.faults.clear()
        self.restore()
        self.project = SandboxProject(self.config, self.inbox, self.now)
        with self._calls_lock:
            self.calls.clear()

    def last_code(self, to: str | None = None) -> str | None:
        """The code of the last message delivered (to ``to``, if given)."""
        message = self.inbox.last(to)
        return message.code if message else None

    # -- dispatch ------------------------------------------------------------

    def handle(self, request: SandboxRequest) -> SandboxResponse:
        """Answer one request, as kod.mobi would."""
        if request.path == "/sandbox" or request.path.startswith("/sandbox/"):
            return pages.handle_control(self, request)
        route = _API_ROUTES.get(request.path)
        if route is None and _MANUAL_MESSAGE.fullmatch(request.path):
            route = _MANUAL_MESSAGE_ROUTE
        language = language_from_header(request.header("Accept-Language"))
        if route is None:
            return self.error_response("ERROR_NOT_FOUND", 404, language, {})
        cors = route.key is KeyKind.PUBLIC
        if request.method == "OPTIONS" and cors:
            return self._with_cors(SandboxResponse(204, {}, b""))
        response = self._dispatch(route, request, language)
        return self._with_cors(response) if cors else response

    def _dispatch(
        self, route: _Route, request: SandboxRequest, language: str
    ) -> SandboxResponse:
        fault: Fault | None = None
        with self._calls_lock:
            self.calls[route.operation] += 1
        try:
            if request.method != route.method:
                raise Refusal("ERROR_BAD_REQUEST", 405)
            self._authenticate(route, request)
            fault = self.faults.take(route.operation)
            if fault is not None and fault.kind is FaultKind.ERROR:
                raise Refusal("ERROR_INTERNAL", fault.status)
            if route.operation in _CHALLENGED:
                self._check_challenge(request)
            payload = route.handler(self.project, request, language)
        except Refusal as refusal:
            return self.error_response(
                refusal.sys_message, refusal.status, language, refusal.params
            )
        response = json_response(200, payload)
        if fault is not None:
            _apply_fault(fault, response)
        return response

    def _authenticate(self, route: _Route, request: SandboxRequest) -> None:
        expected = (
            self.config.public_key
            if route.key is KeyKind.PUBLIC
            else self.config.secret_key
        )
        given = request.header("x-api-key") or ""
        if given != expected:
            raise Refusal("ERROR_ACCESS_DENIED", 401)

    def _check_challenge(self, request: SandboxRequest) -> None:
        if not self.config.challenge_enabled:
            return
        token = request.header(self.config.challenge_header)
        if token != self.config.challenge_token:
            raise Refusal("ERROR_CHALLENGE", 403)

    def _with_cors(self, response: SandboxResponse) -> SandboxResponse:
        for name, value in _CORS_HEADERS.items():
            response.headers[name] = value.format(
                challenge=self.config.challenge_header
            )
        return response

    @staticmethod
    def error_response(
        sys_message: str, status: int, language: str, params: Mapping[str, Any]
    ) -> SandboxResponse:
        return json_response(
            status,
            {
                "success": False,
                "error": error_text(sys_message, language),
                "error_params": dict(params),
                "status": status,
                "sys_message": "" if sys_message == "ERROR_INTERNAL" else sys_message,
            },
        )


def _apply_fault(fault: Fault, response: SandboxResponse) -> None:
    # These faults strike after the work is done, the harmful way round: the
    # message went out, but the caller cannot know.
    if fault.kind is FaultKind.LATENCY:
        response.delay = fault.latency
    elif fault.kind is FaultKind.MALFORMED:
        response.body = response.body[: max(1, len(response.body) // 2)]
    elif fault.kind is FaultKind.DROP:
        response.drop = True
    elif fault.kind is FaultKind.DRIP:
        response.drip = fault.latency
    elif fault.kind is FaultKind.BODY:
        response.status, response.body = 200, fault.body.encode()
