from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory


def session_request(path: str = "/login/") -> HttpRequest:
    """A POST request with a working session, as after the middleware."""
    request = RequestFactory().post(path, HTTP_USER_AGENT="pytest-browser/1.0")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.session.save()
    request.user = AnonymousUser()
    return request


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
