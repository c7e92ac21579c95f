"""Web-level guards: redirects, CSRF, session fixation, caching, error
reports. Each test breaks if its guard is removed."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory, TestCase, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_kodmobi.api import views as api_views
from django_kodmobi.models import OTPSession
from django_kodmobi.pages.login import (
    CodeView,
    LoginView,
    ResendView,
    RestartView,
    safe_next,
)
from django_kodmobi.testing import KodMobiTestMixin

EMAIL = "anna@example.com"

#: Django's own corpus of unsafe redirect targets (tests/utils_tests/test_http.py).
BAD_NEXT = [
    "http://example.com",
    "http:///example.com",
    "https://example.com",
    "ftp://example.com",
    r"\\example.com",
    r"\\\example.com",
    r"/\\/example.com",
    r"\\//example.com",
    r"/\/example.com",
    r"\/example.com",
    r"/\example.com",
    r"http:/\//example.com",
    r"http:\/example.com",
    r"http:/\example.com",
    'javascript:alert("XSS")',
    "\njavascript:alert(x)",
    "\x08//example.com",
    r"http://otherserver\@example.com",
    r"http:\\testserver\@example.com",
    r"http://testserver\me:pass@example.com",
    r"http://testserver\@example.com",
    r"http:\\testserver\confirm\me@example.com",
    "http:999999999",
    "ftp:9999999999",
    "\n",
    "http://[2001:cdba:0000:0000:0000:0000:3257:9652/",
    "http://2001:cdba:0000:0000:0000:0000:3257:9652]/",
    "//example.com",
    "///example.com",
    "https:/example.com",
]
GOOD_NEXT = [
    "/",
    "/view/?param=http://example.com",
    "/%C3%A7",
    "//testserver/",
    "http://testserver/confirm?email=me@example.com",
]


class RedirectTests(TestCase):
    def test_the_whole_corpus_lands_home(self) -> None:
        request = RequestFactory().get("/")
        for url in BAD_NEXT:
            assert safe_next(request, url) == "/", url
        for url in GOOD_NEXT:
            assert safe_next(request, url) == url, url

    def test_no_downgrade_to_http_on_a_secure_site(self) -> None:
        secure = RequestFactory().get("/", secure=True)
        assert safe_next(secure, "http://testserver/account/") == "/"
        assert (
            safe_next(secure, "https://testserver/account/")
            == "https://testserver/account/"
        )


@override_settings(LOGIN_REDIRECT_URL="/")
class RedirectEndToEndTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        get_user_model().objects.create_user("anna", EMAIL)

    def test_an_offsite_next_is_dropped_after_login(self) -> None:
        for url in ["https://example.com/", r"/\example.com", "//example.com"]:
            client = Client()
            client.post(reverse("kodmobi:login"), {"identifier": EMAIL, "next": url})
            reply = client.post(
                reverse("kodmobi:code"), {"code": self.kodmobi_code(EMAIL)}
            )
            assert reply.status_code == 302
            assert reply["Location"] == "/", url
            self.kodmobi.advance(181)


class CsrfTests(KodMobiTestMixin, TestCase):
    def test_every_page_post_needs_a_token(self) -> None:
        client = Client(enforce_csrf_checks=True)
        for name in ["login", "code", "resend", "restart"]:
            reply = client.post(reverse(f"kodmobi:{name}"), {"identifier": EMAIL})
            assert reply.status_code == 403, name
        assert OTPSession.objects.count() == 0

    def test_every_api_post_needs_a_token_in_session_mode(self) -> None:
        api = APIClient(enforce_csrf_checks=True)
        for name in ["start", "resend", "verify", "complete"]:
            reply = api.post(
                reverse(f"kodmobi_api:{name}"), {"identifier": EMAIL}, format="json"
            )
            assert reply.status_code in (403, 404), name
            if reply.status_code == 403:
                assert reply.json()["code"] == "csrf_failed", name
        assert OTPSession.objects.count() == 0
        assert self.kodmobi.calls["create"] == 0

    @override_settings(KODMOBI={**settings.KODMOBI, "BROWSER_SDK": True})
    def test_complete_needs_a_token_too(self) -> None:
        api = APIClient(enforce_csrf_checks=True)
        reply = api.post(
            reverse("kodmobi_api:complete"),
            {"flow": "a.b", "verify_token": "x"},
            format="json",
        )
        assert (reply.status_code, reply.json()["code"]) == (403, "csrf_failed")


class SessionFixationTests(KodMobiTestMixin, TestCase):
    def test_login_gives_a_new_session_key_and_csrf_token(self) -> None:
        get_user_model().objects.create_user("anna", EMAIL)
        self.client.get(reverse("kodmobi:login"))
        self.client.post(reverse("kodmobi:login"), {"identifier": EMAIL})
        before = self.client.session.session_key
        csrf_before = self.client.cookies.get("csrftoken")
        self.client.post(reverse("kodmobi:code"), {"code": self.kodmobi_code(EMAIL)})
        assert self.client.session.session_key != before
        assert self.client.session.get("_auth_user_id")
        after = self.client.cookies.get("csrftoken")
        assert after is None or csrf_before is None or after.value != csrf_before.value


class DecoratorTests(TestCase):
    """never_cache and sensitive_post_parameters on every view that takes a
    code, an identifier or a token."""

    SECRETS = {"identifier", "code"}

    def call(self, view: Any, **post: str) -> tuple[Any, Any]:
        request = RequestFactory().post("/", post)
        from django.contrib.auth.models import AnonymousUser
        from django.contrib.sessions.backends.cache import SessionStore

        request.session = SessionStore()
        request.user = AnonymousUser()
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return request, view(request)

    def test_pages(self) -> None:
        for view in [LoginView, CodeView, ResendView, RestartView]:
            request, response = self.call(view.as_view(), identifier="x", code="1")
            assert "no-store" in response["Cache-Control"], view
            assert set(request.sensitive_post_parameters) >= self.SECRETS, view

    def test_api(self) -> None:
        for view in [api_views.StartView, api_views.VerifyView, api_views.CompleteView]:
            request, _response = self.call(view.as_view(), identifier="x", code="1")
            hidden = set(request.sensitive_post_parameters)
            assert hidden >= {"identifier", "code", "flow", "verify_token"}, view


@pytest.mark.parametrize("name", ["start", "verify", "resend", "complete"])
def test_api_errors_never_echo_a_secret(name: str, db: Any) -> None:
    api = APIClient()
    reply = api.post(
        reverse(f"kodmobi_api:{name}"),
        {
            "identifier": "not a phone +79991234567",
            "flow": "x.secret-flow",
            "code": "x",
        },
        format="json",
    )
    assert b"secret-flow" not in reply.content
    assert b"79991234567" not in reply.content
