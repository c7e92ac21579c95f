from __future__ import annotations

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
