"""Settings to client, client IPs, and the testing helpers."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.http import HttpRequest
from django.test import RequestFactory, SimpleTestCase, override_settings
from django.utils import translation

from django_kodmobi import provider
from django_kodmobi.client import Operation
from django_kodmobi.sandbox import SANDBOX_URL, SandboxServer
from django_kodmobi.services import ClientInfo, start_login, verify_code
from django_kodmobi.testing import fresh_sandbox, last_code


class ProviderTests(SimpleTestCase):
    def tearDown(self) -> None:
        provider.reset()

    @override_settings(
        KODMOBI={
            "PUBLIC_KEY": "pk",
            "SECRET_KEY": "sk",
            "API_URL": "https://kodmobi.example",
            "PATHS": {"check": "/v2/check"},
            "TIMEOUT": [2, 7],
            "MAX_RETRIES": 1,
        }
    )
    def test_real_client_from_settings(self) -> None:
        client = provider.get_client()
        assert client.base_url == "https://kodmobi.example"
        assert client.timeout == (2.0, 7.0)
        assert client.max_retries == 1
        assert client.endpoints[Operation.CHECK].path == "/v2/check"
        assert provider.get_client() is client, "one pooled client per configuration"

    def test_sandbox_client_and_reset_on_settings_change(self) -> None:
        client = provider.get_client()
        assert client.base_url == SANDBOX_URL
        engine = provider.get_sandbox()
        assert engine.config.public_key == "test-public-key"
        with override_settings(
            KODMOBI={
                "SANDBOX": settings.KODMOBI["SANDBOX"],
                "PUBLIC_KEY": "test-public-key",
                "SECRET_KEY": "test-secret-key",
                "MAX_ATTEMPTS": 3,
            }
        ):
            assert provider.get_client() is not client
            assert provider.get_sandbox() is engine, (
                "same sandbox options keep the sandbox"
            )
        with override_settings(KODMOBI={"SANDBOX": {"echo": False, "code_length": 8}}):
            assert provider.get_sandbox() is not engine

    def test_language_follows_the_request(self) -> None:
        with translation.override("ru"):
            assert provider.kodmobi_language() == "ru"
        with translation.override("de"):
            assert provider.kodmobi_language() == "en"


class ClientInfoTests(SimpleTestCase):
    def request(self, forwarded: str = "") -> HttpRequest:
        return RequestFactory().get(
            "/",
            REMOTE_ADDR="10.0.0.1",
            HTTP_USER_AGENT="UA" * 200,
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    def test_remote_addr_by_default(self) -> None:
        info = ClientInfo.from_request(self.request("6.6.6.6"))
        assert info.ip == "10.0.0.1"
        assert len(info.user_agent) == 255

    def test_trusted_proxies(self) -> None:
        request = self.request("6.6.6.6, 203.0.113.7, 10.0.0.2")
        with override_settings(KODMOBI={"TRUSTED_PROXY_COUNT": 2}):
            assert ClientInfo.from_request(request).ip == "203.0.113.7"
        with override_settings(KODMOBI={"TRUSTED_PROXY_COUNT": 5}):
            assert ClientInfo.from_request(request).ip == "10.0.0.1"

    def test_no_address(self) -> None:
        request = RequestFactory().get("/")
        del request.META["REMOTE_ADDR"]
        assert ClientInfo.from_request(request).ip is None


class TestingHelpersTests(SimpleTestCase):
    def test_last_code_names_what_is_missing(self) -> None:
        fresh_sandbox()
        with pytest.raises(AssertionError, match="delivered nothing to anyone"):
            last_code()


@pytest.mark.django_db
def test_logins_keep_one_connection_to_kodmobi(sandbox_server: SandboxServer) -> None:
    """The shared client keeps its connection alive: a worker opens one to
    kod.mobi, however many logins it serves."""
    engine = sandbox_server.engine
    kodmobi = {
        "API_URL": sandbox_server.url,
        "PUBLIC_KEY": engine.config.public_key,
        "SECRET_KEY": engine.config.secret_key,
        "UNKNOWN_IDENTIFIERS": "code",  # nobody has these emails
    }
    try:
        with override_settings(KODMOBI=kodmobi):
            provider.reset()
            before = sandbox_server.connections
            for n in range(10):
                email = f"user{n}@example.com"
                flow = start_login(email)
                code = engine.last_code(email)
                assert code is not None
                verify_code(flow.session.pk, flow.token, code)
            assert sandbox_server.connections - before == 1
    finally:
        provider.reset()
