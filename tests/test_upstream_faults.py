"""A failing or hostile kod.mobi: replies that make no sense, replies that
never end, outages. Nobody logs in, nothing answers 500, every row records
why, and no request waits past the deadline."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any
from unittest import mock

import pytest
import responses
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import SimpleTestCase, TestCase, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_kodmobi import breaker, clock, provider, soft_cache
from django_kodmobi.client import (
    KodMobiClient,
    KodMobiConnectionError,
    KodMobiTimeoutError,
)
from django_kodmobi.client.types import safe_link
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import OTPSession, Status
from django_kodmobi.sandbox import Fault, FaultKind, SandboxServer
from django_kodmobi.services import start_login, verify_code
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import reply_cut_off

API = "https://kodmobi.test"
SESSION_ID = "01JB0000000000000000000000"
LIVE = {
    "SANDBOX": False,
    "API_URL": API,
    "PUBLIC_KEY": "public",
    "SECRET_KEY": "secret",
    "MAX_RETRIES": 0,
    "RATE_LIMITS": {},
}


def live(**extra: Any) -> dict[str, Any]:
    limits_off = dict.fromkeys(settings.RATE_LIMIT_NAMES, "")
    resolver = settings.KODMOBI["USER_RESOLVER"]
    return {
        **LIVE,
        "RATE_LIMITS": limits_off,
        "USER_RESOLVER": resolver,
        # The suite's phones belong to nobody; these tests are about kod.mobi.
        "UNKNOWN_IDENTIFIERS": "code",
        **extra,
    }


def created(**changes: Any) -> dict[str, Any]:
    reply = {
        "session_id": SESSION_ID,
        "session_expired_at": "2030-01-01T00:00:00.000Z",
        "sent_to": "sms",
        "channels": [
            {"type": "sms", "name": "SMS", "is_active": True, "timeout": 60},
        ],
    }
    reply.update(changes)
    return reply


def channel(**changes: Any) -> dict[str, Any]:
    return {"type": "sms", "name": "SMS", "is_active": True, "timeout": 0, **changes}


#: Replies to "create" that must read as "kod.mobi is not answering properly".
MALFORMED_CREATES: dict[str, bytes] = {
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "infinite timeout": json.dumps(created())
    .replace('"timeout": 60', '"timeout": Infinity')
    .encode(),
    "NaN timeout": json.dumps(created())
    .replace('"timeout": 60', '"timeout": NaN')
    .encode(),
    "float overflow": json.dumps(created())
    .replace('"timeout": 60', '"timeout": 1e999')
    .encode(),
    "date past the calendar": json.dumps(
        created(session_expired_at="9999-12-31T23:59:59-23:59")
    ).encode(),
    "date before it": json.dumps(
        created(session_expired_at="0001-01-01T00:00:00+01:00")
    ).encode(),
    "over-long id": json.dumps(created(session_id="0" * 5000)).encode(),
    "id with markup": json.dumps(created(session_id="<script>")).encode(),
    "over-long channel type": json.dumps(created(sent_to="x" * 100)).encode(),
    "channel type of another shape": json.dumps(
        created(channels=[channel(type="SMS; DROP")])
    ).encode(),
    "wrong types": json.dumps(created(channels="sms")).encode(),
    "not JSON": b"<html>502 Bad Gateway</html>",
    "truncated": json.dumps(created()).encode()[:40],
}


@override_settings(KODMOBI=live())
class MalformedReplyTests(TestCase):
    def setUp(self) -> None:
        provider.reset()
        self.addCleanup(provider.reset)
        self.api = APIClient()

    def start(self) -> Any:
        return self.api.post(
            reverse("kodmobi_api:start"), {"identifier": "+79991234567"}, format="json"
        )

    def test_each_malformed_create_is_a_clean_503(self) -> None:
        for name, body in MALFORMED_CREATES.items():
            with self.subTest(name), responses.RequestsMock() as upstream:
                upstream.post(f"{API}/session/create", body=body, status=200)
                breaker.reset()
                reply = self.start()
                assert reply.status_code == 503, (name, reply.content)
                assert reply.json()["code"] == "kodmobi_unavailable"
                assert reply["Retry-After"]
        rows = OTPSession.objects.all()
        assert rows.count() == len(MALFORMED_CREATES)
        assert {(r.status, r.last_error) for r in rows} == {
            (Status.FAILED, "KodMobiResponseError")
        }

    def test_an_error_page_that_is_not_kodmobis_is_a_clean_503(self) -> None:
        """A proxy's or gateway's 400, 401, 413, 429 or 431 without kod.mobi's
        sys_message refuses nothing: the service is not answering properly."""
        for status in (400, 401, 413, 429, 431):
            for body in (b"<html>Bad gateway config</html>", b'{"error": "nope"}'):
                with self.subTest(status=status, body=body):
                    with responses.RequestsMock() as upstream:
                        upstream.post(f"{API}/session/create", body=body, status=status)
                        breaker.reset()
                        reply = self.start()
                    assert reply.status_code == 503, reply.content
                    assert reply.json()["code"] == "kodmobi_unavailable"

    @override_settings(KODMOBI=live(BREAKER_FAILURES=3))
    def test_error_pages_that_are_not_kodmobis_open_the_breaker(self) -> None:
        for status in (401, 413, 431):
            breaker.reset()
            with responses.RequestsMock() as upstream:
                upstream.post(f"{API}/session/create", body=b"no", status=status)
                for _ in range(3):
                    self.start()
                reply = self.start()  # refused by the open breaker
                assert len(upstream.calls) == 3, status
            assert reply.status_code == 503

    def test_a_reply_cut_off_halfway_is_a_clean_503(self) -> None:
        for how in ("close", "reset"):
            with (
                self.subTest(how),
                reply_cut_off(how) as url,
                override_settings(KODMOBI=live(API_URL=url)),
            ):
                provider.reset()
                breaker.reset()
                reply = self.start()
                assert reply.status_code == 503, (how, reply.content)
                assert reply.json()["code"] == "kodmobi_unavailable"
        rows = OTPSession.objects.all()
        assert [(r.status, r.last_error) for r in rows] == [
            (Status.FAILED, "KodMobiConnectionError")
        ] * 2

    def test_values_are_clamped(self) -> None:
        reply = created(
            channels=[channel(timeout=10**30), channel(type="email", timeout=-5)]
        )
        with responses.RequestsMock() as upstream:
            upstream.post(f"{API}/session/create", json=reply)
            flow = start_login("+79991234567")
        assert [c.timeout for c in flow.channels] == [3600, 0]
        # The flow never outlives the app's own maximum, whatever kod.mobi says.
        limit = flow.session.created_at.timestamp() + 180
        assert flow.session.expires_at.timestamp() <= limit

    def test_negative_wait_from_kodmobi_is_not_passed_on(self) -> None:
        refusal = {
            "success": False,
            "error": "wait",
            "status": 429,
            "sys_message": "ERROR_MESSAGE_ATTEMPT",
            "error_params": {"timeout": -40},
        }
        with responses.RequestsMock() as upstream:
            upstream.post(f"{API}/session/create", json=refusal, status=429)
            reply = self.start()
        assert (reply.status_code, reply.json()["code"]) == (429, "resend_too_soon")
        assert reply.json()["retry_after"] == 1

    def test_login_page_survives_a_malformed_channel_list(self) -> None:
        with responses.RequestsMock() as upstream:
            upstream.get(f"{API}/session/channels", body=b'[{"type": 7}]')
            page = self.client.get(reverse("kodmobi:login"))
            again = self.client.get(reverse("kodmobi:login"))
            calls = len(upstream.calls)
        assert (page.status_code, again.status_code) == (200, 200)
        assert b"Phone number or email" in page.content
        assert calls == 1, "a failed channel list is remembered for a while"


class UnsafeLinkTests(KodMobiTestMixin, TestCase):
    """Defect 8: links from kod.mobi go into href/src attributes."""

    def test_only_https_or_the_local_sandbox(self) -> None:
        assert safe_link("https://t.me/bot") == "https://t.me/bot"
        assert safe_link("http://127.0.0.1:8765/sandbox/connect/telegram")
        assert safe_link("http://sandbox.kodmobi.invalid/icons/x.svg")
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "http://evil.example/",
            # Plain http only for loopback and the reserved .invalid domain.
            "http://evilinvalid/",
            "http://sandbox.invalid.evil.example/",
            "http://127.0.0.1.evil.example/",
            "//evil.example/",
            "https://",
            "tg://resolve?domain=x",
            "https://ok.example/\nSet-Cookie: x",
            "https://[::1",
            7,
            None,
        ]:
            assert safe_link(bad) == "", bad

    def test_a_javascript_link_reaches_neither_pages_nor_api(self) -> None:
        self.kodmobi.config.telegram_bot_link = "javascript:alert(document.cookie)"
        self.kodmobi.config.phone_channels = frozenset({"sms"})
        api = APIClient()
        reply = api.post(
            reverse("kodmobi_api:start"), {"identifier": "+79991234567"}, format="json"
        ).json()
        telegram = next(c for c in reply["channels"] if c["type"] == "telegram")
        assert telegram["link"] == ""
        session = self.client.session
        login = self.client.post(
            reverse("kodmobi:login"), {"identifier": "+79991234568"}
        )
        assert login.status_code == 302, session
        page = self.client.get(reverse("kodmobi:code"))
        assert b"javascript:" not in page.content.lower()


class DeadlineTests(TestCase):
    """Defect 7: a reply trickling in a byte at a time, or not at all."""

    server: SandboxServer

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        from django_kodmobi.sandbox import SandboxConfig, SandboxEngine

        cls.server = SandboxServer(SandboxEngine(SandboxConfig(echo=False))).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.close()
        super().tearDownClass()

    def setUp(self) -> None:
        self.server.engine.faults.clear()
        config = self.server.engine.config
        self.kodmobi = KodMobiClient(
            config.public_key,
            config.secret_key,
            base_url=self.server.url,
            timeout=(2, 5),
            deadline=0.6,
            sleep=lambda seconds: None,
        )
        self.addCleanup(self.kodmobi.close)

    def timed(self, call: Any) -> float:
        started = time.monotonic()
        with pytest.raises(KodMobiTimeoutError):
            call()
        return time.monotonic() - started

    def test_a_trickling_reply_is_cut_at_the_deadline(self) -> None:
        self.server.engine.faults.add(Fault(FaultKind.DRIP, latency=0.05))
        elapsed = self.timed(lambda: self.kodmobi.create_session("+79991234567"))
        assert elapsed < 0.6 + 1.0

    def test_a_stalled_channel_list_is_cut_at_the_deadline(self) -> None:
        self.server.engine.faults.add(Fault(FaultKind.LATENCY, latency=3))
        elapsed = self.timed(lambda: self.kodmobi.get_channels())
        assert elapsed < 0.6 + 1.0

    def test_retries_stop_at_the_deadline(self) -> None:
        self.server.engine.faults.add(Fault(FaultKind.LATENCY, latency=0.4))
        config = self.server.engine.config
        client = KodMobiClient(
            config.public_key,
            base_url=self.server.url,
            deadline=0.6,
            max_retries=5,
            timeout=(1, 0.3),
        )
        self.addCleanup(client.close)
        elapsed = self.timed(lambda: client.get_channels())
        assert elapsed < 0.6 + 1.0

    def test_no_deadline_means_a_config_error(self) -> None:
        with pytest.raises(ValueError):
            KodMobiClient("k", deadline=0)


# A cool-down unlike the 30 s default, so Retry-After must come from it.
@override_settings(
    KODMOBI={**settings.KODMOBI, "BREAKER_FAILURES": 3, "BREAKER_COOLDOWN": 45}
)
class CircuitBreakerTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.api = APIClient()

    def start(self, identifier: str = "+79991234567") -> Any:
        return self.api.post(
            reverse("kodmobi_api:start"), {"identifier": identifier}, format="json"
        )

    def test_opens_after_failures_in_a_row_and_closes_after_a_probe(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.kodmobi.faults.add(Fault(FaultKind.ERROR, status=502, times=3))
            for _ in range(3):
                assert self.start().status_code == 503
            assert self.kodmobi.calls["create"] == 3
            refused = [self.start(f"+7999000{n:04d}") for n in range(100)]
            assert {r.status_code for r in refused} == {503}
            assert {r.json()["code"] for r in refused} == {"kodmobi_unavailable"}
            assert {int(r["Retry-After"]) for r in refused} == {45}
            assert self.kodmobi.calls["create"] == 3, "kod.mobi was left alone"
            clock.shift(44)
            late = self.start()
            assert (late.status_code, late["Retry-After"]) == (503, "1")
            assert self.kodmobi.calls["create"] == 3
            clock.shift(1)
            assert self.start().status_code == 201, "the probe goes through"
            assert self.start("+79990000002").status_code == 201
            assert self.kodmobi.calls["create"] == 5

    def test_a_failed_probe_opens_it_again(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.kodmobi.faults.add(Fault(FaultKind.ERROR, times=4))
            for _ in range(3):
                self.start()
            clock.shift(45)
            assert self.start().status_code == 503  # the probe fails
            clock.shift(44)
            assert self.start().status_code == 503
            assert self.kodmobi.calls["create"] == 4

    def test_refusals_are_answers_not_failures(self) -> None:
        for _ in range(5):
            reply = self.start("+7999")  # kod.mobi refuses a bad number
            assert reply.status_code == 400
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, times=2))
        self.start()
        self.start()
        assert self.start().status_code == 201, "two failures do not open it"

    def test_a_success_resets_the_count(self) -> None:
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, times=2))
        self.start()
        self.start()
        assert self.start().status_code == 201
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, times=2))
        self.start("+79990000003")
        self.start("+79990000004")
        assert self.start("+79990000005").status_code == 201


def fail_once() -> None:
    """One kod.mobi call that gets no answer, under the breaker."""
    with contextlib.suppress(KodMobiConnectionError), breaker.guard():
        raise KodMobiConnectionError("no answer")


def succeed_once() -> None:
    with breaker.guard():
        pass


# The breaker's state must outlive the cache's default lifetime (300 s).
# Redis would count lifetimes on its own clock: local memory follows ours.
@override_settings(
    KODMOBI={**settings.KODMOBI, "BREAKER_FAILURES": 3, "BREAKER_COOLDOWN": 600},
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
)
class BreakerStateTests(SimpleTestCase):
    def setUp(self) -> None:
        cache.clear()

    def test_failures_in_a_row_count_however_far_apart(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            fail_once()
            clock.shift(3600)
            fail_once()
            clock.shift(3600)
            fail_once()
            clock.shift(10)
            with pytest.raises(breaker.CircuitOpenError) as info:
                succeed_once()
        assert info.value.retry_after == 590
        assert "590 s" in str(info.value)

    def test_it_stays_open_for_the_whole_cool_down(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            for _ in range(3):
                fail_once()
            clock.shift(599)
            with pytest.raises(breaker.CircuitOpenError):
                succeed_once()
            clock.shift(1)
            succeed_once()

    @override_settings(KODMOBI={**settings.KODMOBI, "BREAKER_COOLDOWN": 2})
    def test_a_failed_probe_makes_room_for_the_next_one(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            for _ in range(5):
                fail_once()
            clock.shift(2)
            fail_once()  # the probe fails: open for 2 s more
            clock.shift(2)
            succeed_once()  # the next probe may go, though 2 s < a deadline

    def test_ten_callers_at_once_after_the_cool_down_make_one_probe(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            for _ in range(3):
                fail_once()
            clock.shift(600)
            barrier = threading.Barrier(10)
            probing = threading.Event()
            probes: list[int] = []
            refused: list[int] = []

            def caller() -> None:
                barrier.wait()
                try:
                    with breaker.guard():
                        probes.append(1)
                        probing.set()
                        time.sleep(0.2)  # the probe's call is in flight
                except breaker.CircuitOpenError:
                    refused.append(1)

            threads = [threading.Thread(target=caller) for _ in range(10)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
        assert (len(probes), len(refused)) == (1, 9)

    def test_a_caller_that_read_the_state_before_a_failed_probe_waits(self) -> None:
        """The probe is taken per opening: a caller who saw the old opening
        cannot take a second probe once the first one re-opened it."""
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            for _ in range(3):
                fail_once()
            clock.shift(600)
            stale_state = cache.get_many(
                ["kodmobi:breaker:open-until", "kodmobi:breaker:failures"]
            )
            fail_once()  # the probe fails: open again
            with (
                mock.patch.object(soft_cache, "get_many", return_value=stale_state),
                pytest.raises(breaker.CircuitOpenError),
            ):
                succeed_once()

    @override_settings(KODMOBI={**settings.KODMOBI, "BREAKER_FAILURES": 2})
    def test_a_count_cleared_by_a_success_elsewhere_starts_at_one(self) -> None:
        incr = cache.incr

        def cleared_first(key: str, delta: int = 1) -> int:
            cache.delete(key)  # another worker's success lands in between
            return incr(key, delta)

        with mock.patch.object(cache, "incr", cleared_first):
            fail_once()
        assert cache.get("kodmobi:breaker:failures") == 1
        succeed_once()  # one failure does not open it
        fail_once()
        fail_once()
        with pytest.raises(breaker.CircuitOpenError):
            succeed_once()


# Lifetimes are what this app asks of the cache; Redis would count them on
# its own clock, which time-machine does not move.
@override_settings(
    KODMOBI={**settings.KODMOBI, "MAX_RETRIES": 0},
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
)
class ChannelListCacheTests(KodMobiTestMixin, TestCase):
    """The project's channel list: cached while it lasts, per language, and
    a failure remembered only briefly."""

    def test_lifetimes_and_languages(self) -> None:
        from django.utils import translation

        from django_kodmobi.exceptions import Failure, VerificationError
        from django_kodmobi.services import get_channels

        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            get_channels()
            with translation.override("ru"):
                get_channels()  # its own list, in Russian
            assert self.kodmobi.calls["channels"] == 2
            clock.shift(299)
            get_channels()
            assert self.kodmobi.calls["channels"] == 2
            clock.shift(1)
            self.kodmobi.faults.add(Fault(FaultKind.ERROR, frozenset({"channels"})))
            with pytest.raises(VerificationError) as info:
                get_channels()
            assert info.value.reason is Failure.UNAVAILABLE
            with pytest.raises(VerificationError) as info:
                get_channels()  # remembered: kod.mobi is not asked again
            assert info.value.retry_after == 15
            assert self.kodmobi.calls["channels"] == 3
            self.kodmobi.faults.clear()
            clock.shift(15)
            assert len(get_channels()) == 4
            assert self.kodmobi.calls["channels"] == 4


class JustAnsweredTests(KodMobiTestMixin, TestCase):
    """A code's verify token is redeemed right after the check that gave it:
    that answer is fresher news than the breaker's state, which the token's
    call does not read again (one cache round trip fewer per login). A
    failure of that call still counts."""

    def setUp(self) -> None:
        super().setUp()
        cache.clear()

    def check_and_open_the_breaker(self, check_code: Any) -> Any:
        def checked(client: KodMobiClient, *args: Any, **kwargs: Any) -> Any:
            result = check_code(client, *args, **kwargs)
            # Another worker saw kod.mobi fail, meanwhile.
            cache.set("kodmobi:breaker:open-until", clock.epoch() + 600)
            return result

        return checked

    def test_a_breaker_opened_meanwhile_does_not_strand_a_checked_code(self) -> None:
        flow = start_login("+79991234567")
        code = self.kodmobi_code("+79991234567")
        reads = mock.patch.object(soft_cache, "get_many", wraps=soft_cache.get_many)
        opens = mock.patch.object(
            KodMobiClient,
            "check_code",
            self.check_and_open_the_breaker(KodMobiClient.check_code),
        )
        with reads as read, opens:
            session = verify_code(flow.session.pk, flow.token, code)
        assert session.status == Status.VERIFIED
        assert read.call_count == 1  # before the check only
        # The next operation reads it, and is refused.
        with pytest.raises(VerificationError) as info:
            start_login("+79991234568")
        assert info.value.reason is Failure.UNAVAILABLE

    def test_a_failure_of_that_call_still_counts(self) -> None:

        flow = start_login("+79991234567")
        code = self.kodmobi_code("+79991234567")
        lost = mock.patch.object(
            KodMobiClient,
            "verify_token",
            side_effect=KodMobiConnectionError("the reply was lost"),
        )
        with lost, pytest.raises(VerificationError):
            verify_code(flow.session.pk, flow.token, code)
        assert cache.get("kodmobi:breaker:failures") == 1
