"""Before and after a login through the API: config with the CSRF cookie,
who is logged in, logging out, refreshing a JWT; in browser (session) and
app (token, JWT) modes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from django_kodmobi.sandbox import Fault, FaultKind
from django_kodmobi.testing import KodMobiTestMixin

from .test_api import EMAIL, kodmobi, url

User = get_user_model()


class LifecycleTestCase(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.user = User.objects.create_user("anna", EMAIL)
        # A browser: CSRF is enforced as in production.
        self.api = APIClient(enforce_csrf_checks=True)

    def log_in(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        flow = self.api.post(
            url("start"), {"identifier": EMAIL}, format="json", headers=headers
        ).json()["flow"]
        reply = self.api.post(
            url("verify"),
            {"flow": flow, "code": self.kodmobi_code(EMAIL)},
            format="json",
            headers=headers,
        )
        assert reply.status_code == 200, reply.content
        return dict(reply.json())


class BrowserModeTests(LifecycleTestCase):
    def test_config_sets_the_csrf_cookie_and_says_how_to_log_in(self) -> None:
        reply = self.api.get(url("config"))
        assert reply.status_code == 200
        body = reply.json()
        assert body["identifiers"] == ["phone", "email"]
        assert (body["code_length"], body["browser_sdk"]) == (6, False)
        assert (body["login_mode"], body["csrf_header"]) == ("session", "X-Csrftoken")
        assert {c["type"] for c in body["channels"]} == {
            "telegram",
            "whatsapp",
            "sms",
            "email",
        }
        assert self.api.cookies["csrftoken"].value

    def test_a_whole_login_with_only_the_api(self) -> None:
        self.api.get(url("config"))
        csrf = {"X-CSRFToken": self.api.cookies["csrftoken"].value}
        assert self.api.get(url("session")).json() == {
            "authenticated": False,
            "user": None,
        }
        self.log_in(headers=csrf)
        # login() rotated the CSRF token: the client reads the new cookie.
        csrf = {"X-CSRFToken": self.api.cookies["csrftoken"].value}
        assert self.api.get(url("session")).json() == {
            "authenticated": True,
            "user": {"id": self.user.pk, "username": "anna"},
        }
        refused = self.api.delete(url("session"))  # no CSRF token
        assert refused.status_code == 403
        assert refused.json()["code"] == "csrf_failed"
        assert self.api.delete(url("session"), headers=csrf).status_code == 204
        assert self.api.get(url("session")).json()["authenticated"] is False
        assert self.api.delete(url("session"), headers=csrf).status_code == 403

    def test_a_session_login_counts_when_the_project_authenticates_otherwise(
        self,
    ) -> None:
        rest_framework = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_AUTHENTICATION_CLASSES": [
                "rest_framework.authentication.TokenAuthentication"
            ],
        }
        with override_settings(REST_FRAMEWORK=rest_framework):
            self.api.get(url("config"))
            self.log_in(headers={"X-CSRFToken": self.api.cookies["csrftoken"].value})
            assert self.api.get(url("session")).json()["authenticated"] is True

    def test_config_when_kodmobi_is_down(self) -> None:
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, frozenset({"channels"})))
        reply = self.api.get(url("config"))
        assert reply.status_code == 200 and reply.json()["channels"] == []


@override_settings(KODMOBI=kodmobi(API_LOGIN="token"))
class TokenModeTests(LifecycleTestCase):
    def test_no_cookies_tokens_in_headers(self) -> None:
        assert self.api.get(url("config")).json()["login_mode"] == "token"
        token = self.log_in()["token"]
        assert "sessionid" not in self.api.cookies
        app = APIClient(enforce_csrf_checks=True)  # no cookie jar shared
        auth = {"Authorization": f"Token {token}"}
        assert app.get(url("session"), headers=auth).json()["authenticated"] is True
        assert app.delete(url("session"), headers=auth).status_code == 204
        assert not Token.objects.exists()
        # The token is gone: 401 with the scheme to use, as documented.
        refused = app.get(url("session"), headers=auth)
        assert (refused.status_code, refused["WWW-Authenticate"]) == (401, "Token")


@override_settings(KODMOBI=kodmobi(API_LOGIN="jwt"))
class JwtModeTests(LifecycleTestCase):
    def test_access_refresh_and_who(self) -> None:
        tokens = self.log_in()
        app = APIClient()
        auth = {"Authorization": f"Bearer {tokens['access']}"}
        assert (
            app.get(url("session"), headers=auth).json()["user"]["username"] == "anna"
        )
        fresh = app.post(
            url("jwt_refresh"), {"refresh": tokens["refresh"]}, format="json"
        )
        assert fresh.status_code == 200 and fresh.json()["access"]
        auth = {"Authorization": f"Bearer {fresh.json()['access']}"}
        assert app.get(url("session"), headers=auth).json()["authenticated"] is True
        refused = app.get(url("session"), headers={"Authorization": "Bearer x.y.z"})
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"].startswith("Bearer")
