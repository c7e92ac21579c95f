"""Bad input answers 4xx, never 500; flows end when their time is up."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import RequestFactory, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import OTPSession, Status
from django_kodmobi.services import (
    ClientInfo,
    client_ip,
    expire_stale,
    log_in,
    start_login,
    verify_code,
)
from django_kodmobi.services.context import parse_address
from django_kodmobi.services.verify import normalize_code
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import other_code, session_request

EMAIL = "anna@example.com"


class ApiInputTests(KodMobiTestMixin, TestCase):
    """Defect 9, the REST API."""

    def setUp(self) -> None:
        super().setUp()
        self.api = APIClient()

    def post(self, name: str, body: bytes, **extra: Any) -> Any:
        return self.api.post(
            reverse(f"kodmobi_api:{name}"),
            body,
            content_type="application/json",
            **extra,
        )

    def test_deep_nesting_is_a_bad_request_on_every_post(self) -> None:
        body = b"[" * 100_000 + b"]" * 100_000
        for name in ["start", "resend", "verify", "complete"]:
            reply = self.post(name, body)
            assert reply.status_code in (400, 404), (name, reply.status_code)
            assert reply["Content-Type"] == "application/json"
            if reply.status_code == 400:
                assert reply.json() == {
                    "code": "invalid",
                    "detail": "JSON parse error - nested too deeply",
                }

    def test_an_oversized_body_gets_a_json_answer(self) -> None:
        body = b'{"identifier": "' + b"x" * 3_000_000 + b'"}'
        reply = self.post("start", body)
        assert reply.status_code == 413
        assert reply.json() == {
            "code": "request_too_large",
            "detail": "The request is too large.",
        }

    def test_blank_and_wrong_types_are_invalid(self) -> None:
        for body in [
            b'{"identifier": ""}',
            b'{"identifier": ["+79991234567"]}',
            b'{"identifier": {"a": 1}}',
            b'{"identifier": "+79991234567", "channel": "pigeon"}',
            b'{"identifier": "+79991234567", "send": "maybe"}',
            b"null",
            b"12",
        ]:
            reply = self.post("start", body)
            assert reply.status_code == 400, body
            assert reply.json()["code"] == "invalid"
            assert reply.json()["detail"] == "Invalid input."

    def test_nul_and_long_values(self) -> None:
        flow = self.api.post(
            reverse("kodmobi_api:start"), {"identifier": EMAIL}, format="json"
        ).json()["flow"]
        for channel in ["sms\x00", "x" * 5000]:
            reply = self.api.post(
                reverse("kodmobi_api:resend"),
                {"flow": flow, "channel": channel},
                format="json",
            )
            assert reply.status_code == 400


class PageInputTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.client.post(reverse("kodmobi:login"), {"identifier": EMAIL})

    def test_resend_channel_is_checked_before_anything_is_stored(self) -> None:
        for channel in ["x" * 5000, "sms\x00", "", "pigeon"]:
            page = self.client.post(
                reverse("kodmobi:resend"), {"channel": channel}, follow=True
            )
            assert page.status_code == 200, channel
            assert b"We can&#x27;t send a code through this channel" in page.content
        assert self.kodmobi.calls["send"] == 0


class CodeInputTests(TestCase):
    def test_what_can_be_a_code(self) -> None:
        assert normalize_code(" 123-456 ") == "123456"
        padded = "123 456".center(160)
        assert normalize_code(padded) == "123456"  # up to one SMS pasted
        for junk in [padded + " ", 123456, None, "12345", "1234567", "12345٦"]:
            with pytest.raises(VerificationError) as info:
                normalize_code(junk)
            assert info.value.reason is Failure.INVALID_CODE


class ClientAddressTests(TestCase):
    def request(self, forwarded: str, peer: str = "10.0.0.1") -> Any:
        return RequestFactory().get(
            "/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=peer
        )

    def test_addresses_as_proxies_write_them(self) -> None:
        assert parse_address("203.0.113.5") == "203.0.113.5"
        assert parse_address("203.0.113.5:4711") == "203.0.113.5"
        assert parse_address("[2001:db8::1]:4711") == "2001:db8::1"
        assert parse_address("2001:DB8::1") == "2001:db8::1"
        for junk in ["", "x", "999.1.1.1", "1.2.3.4:5:6", None, "unknown"]:
            assert parse_address(junk) is None

    @override_settings(KODMOBI={**settings.KODMOBI, "TRUSTED_PROXY_COUNT": 1})
    def test_one_trusted_proxy(self) -> None:
        assert (
            client_ip(self.request("198.51.100.1, 203.0.113.5:4711")) == "203.0.113.5"
        )
        # Whatever the client puts first is not trusted.
        assert client_ip(self.request("6.6.6.6, 203.0.113.5")) == "203.0.113.5"
        # Garbage from the proxy falls back to the peer, never to nobody.
        assert client_ip(self.request("not-an-ip")) == "10.0.0.1"
        assert client_ip(self.request("")) == "10.0.0.1"

    @override_settings(KODMOBI={**settings.KODMOBI, "TRUSTED_PROXY_COUNT": 2})
    def test_two_trusted_proxies(self) -> None:
        chain = "6.6.6.6, 198.51.100.1, 203.0.113.5"
        assert client_ip(self.request(chain)) == "198.51.100.1"
        # Fewer entries than proxies: the header is not to be believed.
        assert client_ip(self.request("198.51.100.1")) == "10.0.0.1"

    @override_settings(KODMOBI={**settings.KODMOBI, "TRUSTED_PROXY_COUNT": 2})
    def test_exactly_as_many_entries_as_proxies(self) -> None:
        chain = "198.51.100.1, 203.0.113.5"
        assert client_ip(self.request(chain)) == "198.51.100.1"

    @override_settings(KODMOBI={**settings.KODMOBI, "TRUSTED_PROXY_COUNT": 1})
    def test_no_header_at_all_is_the_peer(self) -> None:
        request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1")
        assert client_ip(request) == "10.0.0.1"
        assert ClientInfo.from_request(request) == ClientInfo("10.0.0.1", "")

    def test_no_trusted_proxy_ignores_the_header(self) -> None:
        assert client_ip(self.request("198.51.100.1")) == "10.0.0.1"


@override_settings(KODMOBI={**settings.KODMOBI, "SIGNUP": True})
class ExpiryTests(KodMobiTestMixin, TestCase):
    """Defect 10."""

    def test_kodmobis_expiry_never_lengthens_a_flow(self) -> None:
        self.kodmobi.config.session_ttl = 3600
        flow = start_login(EMAIL)
        assert flow.session.expires_at == flow.session.created_at + timedelta(
            seconds=180
        )

    @override_settings(KODMOBI={**settings.KODMOBI, "SIGNUP": True, "SESSION_TTL": 60})
    def test_a_shorter_local_maximum(self) -> None:
        flow = start_login(EMAIL)
        assert flow.session.expires_at == flow.session.created_at + timedelta(
            seconds=60
        )

    def test_a_verified_flow_cannot_log_in_after_it_expires(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            flow = start_login(EMAIL)
            verify_code(flow.session.pk, flow.token, self.kodmobi_code(EMAIL))
            clock.shift(180)
            with pytest.raises(VerificationError) as info:
                log_in(session_request(), flow.session.pk, flow.token)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED
        flow.session.refresh_from_db()
        assert flow.session.status == Status.EXPIRED

    def test_a_verified_flow_logs_in_until_then(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            flow = start_login(EMAIL)
            verify_code(flow.session.pk, flow.token, self.kodmobi_code(EMAIL))
            clock.shift(179)
            assert log_in(session_request(), flow.session.pk, flow.token)

    def test_cleanup_expires_verified_flows_too(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            verified = start_login(EMAIL)
            verify_code(verified.session.pk, verified.token, self.kodmobi_code(EMAIL))
            clock.shift(60)
            sent = start_login("bob@example.com")
            clock.shift(119)
            assert expire_stale() == 0
            clock.shift(1)
            assert expire_stale() == 1  # the verified one, never logged in
            clock.shift(60)
            assert expire_stale() == 1
            assert expire_stale() == 0
            expired_at = OTPSession.objects.get(pk=sent.session.pk).updated_at
            assert expired_at == timezone.now()
        statuses = dict(OTPSession.objects.values_list("pk", "status"))
        assert statuses == {
            verified.session.pk: Status.EXPIRED,
            sent.session.pk: Status.EXPIRED,
        }

    def test_cleanup_can_look_ahead(self) -> None:
        flow = start_login(EMAIL)
        assert expire_stale(now=flow.session.expires_at - timedelta(seconds=1)) == 0
        assert expire_stale(now=flow.session.expires_at) == 1
        flow.session.refresh_from_db()
        assert flow.session.updated_at > flow.session.created_at

    def test_a_locked_flow_stays_locked_after_its_expiry(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            flow = start_login(EMAIL)
            wrong = other_code(self.kodmobi_code(EMAIL))
            for _ in range(5):
                with pytest.raises(VerificationError):
                    verify_code(flow.session.pk, flow.token, wrong)
            for shift in (0, 200):
                clock.shift(shift)
                with pytest.raises(VerificationError) as info:
                    verify_code(flow.session.pk, flow.token, self.kodmobi_code(EMAIL))
                assert info.value.reason is Failure.LOCKED
