"""The floor: the least a hand-written kod.mobi login can do.

Three kod.mobi calls over one ``requests.Session`` (create, check, verify)
and ``django.contrib.auth.login``: no audit, no limits, no guards. The
benchmarks measure django-kodmobi against it, as a service layer and as
views.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

BACKEND = "django.contrib.auth.backends.ModelBackend"


class Floor:
    def __init__(self, base_url: str, public_key: str, secret_key: str) -> None:
        self.base_url = base_url
        self.public_key = public_key
        self.secret_key = secret_key
        self.http = requests.Session()

    def _post(self, path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = self.http.post(
            self.base_url + path, json=body, headers={"x-api-key": key}, timeout=5
        )
        reply.raise_for_status()
        return dict(reply.json())

    def start(self, email: str) -> str:
        return str(
            self._post("/session/create", self.public_key, {"to": email})["session_id"]
        )

    def check(self, session_id: str, code: str) -> str:
        """The verify token for a right code."""
        checked = self._post(
            "/session/check", self.public_key, {"session_id": session_id, "code": code}
        )
        return str(checked["verify_token"])

    def confirm(self, verify_token: str) -> str:
        """Whom the code went to."""
        verified = self._post(
            "/session/verify", self.secret_key, {"verify_token": verify_token}
        )
        return str(verified["to"])

    def verify(self, request: HttpRequest, session_id: str, code: str) -> None:
        email = self.confirm(self.check(session_id, code))
        user = get_user_model().objects.get(email=email)
        login(request, user, backend=BACKEND)


#: Set by the benchmark before the views are called.
floor: Floor | None = None


@csrf_exempt
def start_view(request: HttpRequest) -> HttpResponse:
    assert floor is not None
    email = json.loads(request.body)["identifier"]
    return JsonResponse({"session_id": floor.start(email)}, status=201)


@csrf_exempt
def verify_view(request: HttpRequest) -> HttpResponse:
    assert floor is not None
    body = json.loads(request.body)
    floor.verify(request, body["session_id"], body["code"])
    return JsonResponse({"ok": True})


urlpatterns = [
    path("floor/start/", start_view),
    path("floor/verify/", verify_view),
]
