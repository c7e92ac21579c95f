from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings


def other_code(code: str | None) -> str:
    """A six-digit code that is not ``code``: a wrong guess, never by chance
    the right one."""
    return "000000" if code != "000000" else "111111"


def limits(**rates: str) -> override_settings:
    """Settings with only ``rates`` among the rate limits, the rest off."""
    from django.conf import settings

    off = dict.fromkeys(settings.RATE_LIMIT_NAMES, "")
    return override_settings(
        KODMOBI={**settings.KODMOBI, "RATE_LIMITS": {**off, **rates}}
    )


def session_request(path: str = "/login/") -> HttpRequest:
    """A POST request with a working session, as after the middleware."""
    request = RequestFactory().post(path, HTTP_USER_AGENT="pytest-browser/1.0")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.session.save()
    request.user = AnonymousUser()
    return request


def api_login(api: Any, identifier: str, code_for: Callable[[str], str]) -> Any:
    """A login through the REST API with ``api`` (a DRF ``APIClient``):
    start, then verify with the code kod.mobi sent. Returns verify's reply."""
    from django.urls import reverse

    started = api.post(
        reverse("kodmobi_api:start"), {"identifier": identifier}, format="json"
    )
    assert started.status_code == 201, started.content
    body = {"flow": started.json()["flow"], "code": code_for(identifier)}
    reply = api.post(reverse("kodmobi_api:verify"), body, format="json")
    assert reply.status_code == 200, reply.content
    return reply


def rate_limit_keys() -> list[str]:
    """The rate-limit keys the default cache holds, on Redis or local memory."""
    from django.core.cache import cache

    from django_kodmobi import limits

    redis = limits._redis_client("any")
    if redis is not None:
        keys = [key.decode() for key in redis.keys("*")]
    else:
        keys = list(cache._cache.keys())  # type: ignore[attr-defined]
    return [key for key in keys if ":rate:" in key]


def step_up(client: Any, user: Any) -> None:
    """Mark the test client's session as having just confirmed a code."""
    from django_kodmobi import clock
    from django_kodmobi.services.step_up import SESSION_KEY

    session = client.session
    session[SESSION_KEY] = {"user": str(user.pk), "at": clock.epoch()}
    session.save()


def writes(sql: str) -> bool:
    """Whether ``sql`` writes: an INSERT, UPDATE or DELETE, or a statement
    whose CTEs do (``django_kodmobi.statements`` on PostgreSQL)."""
    verb = sql.split(None, 1)[0].upper()
    if verb == "WITH":
        return re.search(r"\b(INSERT|UPDATE|DELETE)\b", sql) is not None
    return verb in {"INSERT", "UPDATE", "DELETE"}


@dataclass
class Work:
    """What a step asks of the database: statements (without transaction
    control), commits (a write outside a transaction is one) and savepoints
    (each a round trip to set and one to release)."""

    statements: int = 0
    commits: int = 0
    savepoints: int = 0
    sql: list[str] = field(default_factory=list)


@contextmanager
def database_work() -> Iterator[Work]:
    """Count a step's statements, commits and savepoints as a request makes
    them: in a test that does not run inside a transaction of its own
    (``TransactionTestCase``), so that the step's BEGIN and COMMIT are seen.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert not connection.in_atomic_block, "the test's transaction hides commits"
    work = Work()
    with CaptureQueriesContext(connection) as captured:
        yield work
    in_transaction = False
    for query in captured.captured_queries:
        sql = query["sql"]
        verb = sql.split(None, 1)[0].upper()
        if verb == "BEGIN":
            in_transaction = True
            work.commits += 1
        elif verb in {"COMMIT", "ROLLBACK"} and "SAVEPOINT" not in sql:
            in_transaction = False
        elif verb == "SAVEPOINT":
            work.savepoints += 1
        elif verb not in {"RELEASE", "ROLLBACK"}:
            work.statements += 1
            work.sql.append(sql)
            work.commits += writes(sql) and not in_transaction


@contextmanager
def reply_cut_off(how: str) -> Iterator[str]:
    """A server on loopback that answers one request with the headers and
    the start of a body, then ``close``s, ``reset``s, ``stall``s or
    ``trickle``s a byte every 1.9 s; yields
    its URL. (``responses`` cannot break a body halfway.)"""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)  # a test that never calls must not hang the suite

    def answer() -> None:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            return
        with connection:
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"session_id": '
            )
            if how == "reset":  # RST, not FIN
                connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            elif how == "stall":
                time.sleep(2)
            elif how == "trickle":  # a byte just inside each read timeout
                with contextlib.suppress(OSError):  # until the client hangs up
                    for _ in range(3):
                        time.sleep(1.9)
                        connection.sendall(b" ")

    server = threading.Thread(target=answer, daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.join()
        listener.close()
