"""Message bombing and SMS pumping: what the app refuses before kod.mobi is
asked to send anything, and limits that hold in every window."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import SimpleTestCase, TestCase, override_settings

from django_kodmobi import guards, limits
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import IdentifierKind, OTPSession
from django_kodmobi.services import ClientInfo, resend_code, start_login
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import rate_limit_keys
from .workers import hammer_limit, run_in_processes

REDIS = os.environ.get("CACHE_URL", "").startswith("redis")


def kodmobi(rates: dict[str, str] | None = None, **extra: Any) -> override_settings:
    off = dict.fromkeys(settings.RATE_LIMIT_NAMES, "")
    return override_settings(
        KODMOBI={**settings.KODMOBI, "RATE_LIMITS": {**off, **(rates or {})}, **extra}
    )


def refused(call: Any) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        call()
    return info.value


class SlidingWindowTests(SimpleTestCase):
    """Every window of a rate holds, not only the clock-aligned ones."""

    def setUp(self) -> None:
        cache.clear()

    def hit(self, name: str = "start_per_ip", value: str = "203.0.113.1") -> None:
        limits.check_rate(name, value)

    @kodmobi({"start_per_ip": "3/m"})
    def test_no_double_burst_at_a_window_edge(self) -> None:
        with time_machine.travel("2026-11-28 10:00:00Z", tick=False) as clock:
            self.hit()
            clock.shift(59)
            self.hit()
            self.hit()
            clock.shift(2)  # a fixed window would start afresh here
            self.hit()  # the first one has left the window
            error = refused(self.hit)
        assert error.reason is Failure.RATE_LIMITED
        assert error.retry_after == 58  # when the second one leaves

    @kodmobi({"start_per_ip": "3/m"})
    def test_exact_at_the_boundary(self) -> None:
        with time_machine.travel("2026-11-28 10:00:00Z", tick=False) as clock:
            for _ in range(3):
                self.hit()
            clock.shift(59.5)
            assert refused(self.hit).retry_after == 1
            clock.move_to("2026-11-28 10:01:00Z")
            for _ in range(3):
                self.hit()  # exactly a minute later: all three have left
            assert refused(self.hit).reason is Failure.RATE_LIMITED

    @kodmobi({"start_per_ip": "2/m,3/h"})
    def test_every_rate_holds_and_a_refusal_costs_nothing(self) -> None:
        with time_machine.travel("2026-11-28 10:00:00Z", tick=False) as clock:
            self.hit()
            self.hit()
            for _ in range(5):
                assert refused(self.hit).retry_after == 60
            clock.shift(60)
            self.hit()  # the refused ones were not counted against the hour
            clock.shift(60)
            error = refused(self.hit)
        assert error.retry_after == 3600 - 120

    @kodmobi({"start_per_ip": "1/m", "verify_per_ip": "1/m"})
    def test_limits_and_values_count_apart(self) -> None:
        self.hit("start_per_ip", "203.0.113.1")
        self.hit("verify_per_ip", "203.0.113.1")
        self.hit("start_per_ip", "203.0.113.2")
        error = refused(lambda: self.hit("start_per_ip", "203.0.113.1"))
        assert error.reason is Failure.RATE_LIMITED

    @kodmobi({"start_per_ip": "2/m"})
    def test_the_wait_runs_to_when_a_place_frees(self) -> None:
        with time_machine.travel("2026-11-28 10:00:00Z", tick=False) as clock:
            self.hit()
            clock.shift(10)
            self.hit()
            clock.shift(10)
            assert refused(self.hit).retry_after == 40  # the first one leaves
            clock.move_to("2026-11-28 10:01:00Z")
            self.hit()
            clock.shift(1)
            assert refused(self.hit).retry_after == 9  # now the second one

    @kodmobi({"start_per_ip": "1/m", "verify_per_ip": "1/m"})
    def test_all_or_nothing_across_limits(self) -> None:
        self.hit("verify_per_ip", "203.0.113.1")
        uses = [("start_per_ip", "203.0.113.1"), ("verify_per_ip", "203.0.113.1")]
        assert refused(lambda: limits.check_rates(uses)).retry_after == 60
        self.hit("start_per_ip", "203.0.113.1")  # the refused use was not counted

    @kodmobi({"start_per_ip": "1/m"})
    def test_no_address_still_counts(self) -> None:
        limits.check_rate("start_per_ip", None)
        refused(lambda: limits.check_rate("start_per_ip", None))

    @kodmobi({"start_per_identifier": "5/m"})
    def test_keys_hold_no_value_in_clear(self) -> None:
        limits.check_rate("start_per_identifier", "+79991234567|203.0.113.1")
        keys = rate_limit_keys()
        assert any("kodmobi:rate:start_per_identifier" in key for key in keys)
        assert not any("7999" in key or "203.0.113" in key for key in keys)

    def test_rates_parse(self) -> None:
        assert limits.parse_rates("20/m, 60/h,200/d") == (
            limits.Rate(20, 60),
            limits.Rate(60, 3600),
            limits.Rate(200, 86400),
        )
        assert limits.parse_rates("") == ()
        with pytest.raises(ValueError):
            limits.parse_rates("20/m,oops")


class SendLimitTests(KodMobiTestMixin, TestCase):
    @kodmobi({"start_per_ip": "2/m,3/h,4/d"})
    def test_per_ip_minute_hour_and_day(self) -> None:
        client = ClientInfo("203.0.113.9")
        with time_machine.travel("2026-11-28 10:00:00Z", tick=False) as clock:
            # The minute stops the first round, the hour the second, the day
            # the rest.
            for round_, (allowed, then) in enumerate(
                [(2, 60), (1, 3600), (1, 3600), (0, 0)]
            ):
                for n in range(allowed):
                    start_login(f"+7999{round_}00000{n}", client=client)
                assert refused(
                    lambda: start_login("+79998888888", client=client)
                ).reason is (Failure.RATE_LIMITED)
                clock.shift(then)
        assert self.kodmobi.calls["create"] == 4

    @kodmobi({"sends_global": "3/h"})
    def test_the_sites_hourly_budget(self) -> None:
        for n in range(3):
            start_login(f"+7999000000{n}", client=ClientInfo(f"203.0.113.{n}"))
        error = refused(
            lambda: start_login("+79990000009", client=ClientInfo("198.51.100.1"))
        )
        assert error.reason is Failure.RATE_LIMITED
        assert self.kodmobi.calls["create"] == 3

    @kodmobi({"sends_per_identifier": "2/h"})
    def test_an_inbox_counts_once_however_it_is_spelt(self) -> None:
        start_login("a.n.na+shop@gmail.com", client=ClientInfo("203.0.113.1"))
        self.kodmobi.advance(181)
        start_login("anna@googlemail.com", client=ClientInfo("203.0.113.2"))
        self.kodmobi.advance(181)
        error = refused(
            lambda: start_login("ANNA+x@gmail.com", client=ClientInfo("203.0.113.3"))
        )
        assert error.reason is Failure.RATE_LIMITED
        assert self.kodmobi.calls["create"] == 2
        # The code still goes where it was asked to go.
        assert self.kodmobi.inbox.messages("a.n.na+shop@gmail.com")

    @kodmobi({"sends_per_identifier": "2/h"})
    def test_resends_count_as_sends(self) -> None:
        flow = start_login("+79991234567", channel="sms")
        resend = resend_code(flow.session.pk, flow.token, "whatsapp")
        assert resend.channel == "whatsapp"
        error = refused(lambda: resend_code(flow.session.pk, flow.token, "telegram"))
        assert error.reason is Failure.RATE_LIMITED
        assert self.kodmobi.calls["send"] == 1

    def test_canonical_forms(self) -> None:
        email = IdentifierKind.EMAIL
        assert (
            guards.canonical_for_limits("a.n.na+x@gmail.com", email) == "anna@gmail.com"
        )
        assert (
            guards.canonical_for_limits("anna@googlemail.com", email)
            == "anna@gmail.com"
        )
        assert (
            guards.canonical_for_limits("a.nna+x@example.com", email)
            == "a.nna@example.com"
        )
        assert guards.canonical_for_limits("+x@example.com", email) == "+x@example.com"
        phone = IdentifierKind.PHONE
        assert guards.canonical_for_limits("+79991234567", phone) == "+79991234567"


class DestinationPolicyTests(KodMobiTestMixin, TestCase):
    def test_premium_toll_free_and_shared_cost_numbers_get_nothing(self) -> None:
        for number in ["+78091234567", "+78001234567", "+449012345678", "+18002345678"]:
            assert (
                refused(lambda n=number: start_login(n)).reason
                is Failure.INVALID_IDENTIFIER
            )
        assert self.kodmobi.calls["create"] == 0
        assert OTPSession.objects.count() == 0

    @override_settings(KODMOBI={**settings.KODMOBI, "BLOCKED_NUMBER_TYPES": ()})
    def test_number_types_are_a_setting(self) -> None:
        assert start_login("+78001234567").session.status == "sent"
        assert self.kodmobi.calls["create"] == 1

    @override_settings(KODMOBI={**settings.KODMOBI, "SMS_COUNTRIES": ["RU"]})
    def test_sms_and_whatsapp_only_where_the_site_serves(self) -> None:
        uk = "+447400123456"
        for channel in ["sms", "whatsapp"]:
            error = refused(lambda c=channel: start_login(uk, channel=c))
            assert error.reason is Failure.CHANNEL_UNAVAILABLE
        assert self.kodmobi.calls["create"] == 0
        # Left to kod.mobi the pick could be SMS: the app names the messenger.
        flow = start_login(uk)
        assert flow.session.channel == "telegram"
        error = refused(lambda: resend_code(flow.session.pk, flow.token, "sms"))
        assert error.reason is Failure.CHANNEL_UNAVAILABLE
        assert self.kodmobi.calls["send"] == 0
        # At home, SMS is fine.
        assert start_login("+79991234567", channel="sms").session.channel == "sms"


def _redis_is_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_is_up(), reason="no Redis on 127.0.0.1:6379")
@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/9",
        }
    }
)
class RedisSlidingWindowTests(SlidingWindowTests):
    """The same rules through the Lua script, on whichever stack runs."""

    @kodmobi({"start_per_ip": "2/m,3/h"})
    def test_logs_expire_after_their_window(self) -> None:
        self.hit()
        redis = limits._redis_client("any")
        ttls = sorted(redis.pttl(key) for key in redis.keys("*:rate:*"))
        assert 60_000 < ttls[0] <= 61_000 and 3_600_000 < ttls[1] <= 3_601_000


DJANGO_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/9",
    }
}


@pytest.mark.skipif(not _redis_is_up(), reason="no Redis on 127.0.0.1:6379")
@override_settings(CACHES=DJANGO_REDIS)
class DjangoRedisSlidingWindowTests(RedisSlidingWindowTests):
    """The same rules on django-redis's cache: the same script."""

    def setUp(self) -> None:
        pytest.importorskip("django_redis")
        super().setUp()

    def test_the_script_counts(self) -> None:
        assert limits._redis_client("any") is not None

    def test_two_worker_processes_get_exactly_the_limit(self) -> None:
        allowed = run_in_processes(
            hammer_limit, [("start_per_ip", "25/m,40/h", 40, DJANGO_REDIS)] * 2
        )
        assert sum(allowed) == 25, allowed


@pytest.mark.skipif(not _redis_is_up(), reason="no Redis on 127.0.0.1:6379")
class PrimaryAndReplicaTests(SimpleTestCase):
    """Behind a primary and a read replica, the logs live on the primary: a
    replica refuses writes, or lags behind the counts of other workers."""

    PRIMARY, REPLICA = "redis://127.0.0.1:6379/10", "redis://127.0.0.1:6379/11"

    @kodmobi({"start_per_ip": "1/m"})
    def test_counted_on_the_primary(self) -> None:
        redis = pytest.importorskip("redis")
        servers = [redis.Redis.from_url(url) for url in (self.PRIMARY, self.REPLICA)]
        for server in servers:
            self.addCleanup(server.close)
            self.addCleanup(server.flushdb)
        for backend in (
            "django.core.cache.backends.redis.RedisCache",
            "django_redis.cache.RedisCache",
        ):
            if backend.startswith("django_redis."):
                pytest.importorskip("django_redis")
            for server in servers:
                server.flushdb()
            caches = {
                "default": {
                    "BACKEND": backend,
                    "LOCATION": [self.PRIMARY, self.REPLICA],
                }
            }
            with self.subTest(backend), override_settings(CACHES=caches):
                limits.check_rate("start_per_ip", "203.0.113.1")
                error = refused(
                    lambda: limits.check_rate("start_per_ip", "203.0.113.1")
                )
                assert error.reason is Failure.RATE_LIMITED
                primary, replica = (len(s.keys("*kodmobi:rate:*")) for s in servers)
                assert (primary, replica) == (1, 0)


class LocalLogExpiryTests(SimpleTestCase):
    @kodmobi({"start_per_ip": "2/m"})
    @override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    )
    def test_logs_expire_after_their_window(self) -> None:
        cache.clear()
        key = f"kodmobi:rate:start_per_ip:{limits.digest('203.0.113.1')}:2/60"
        with time_machine.travel("2026-11-28 10:00:00Z", tick=False) as clock:
            limits.check_rate("start_per_ip", "203.0.113.1")
            clock.shift(60.5)
            assert cache.get(key) is not None  # a second's grace
            clock.shift(1)
            assert cache.get(key) is None


@pytest.mark.skipif(not REDIS, reason="needs the shared Redis cache (CACHE_URL)")
class RedisAcrossWorkersTests(SimpleTestCase):
    def test_two_worker_processes_get_exactly_the_limit(self) -> None:
        cache.clear()
        allowed = run_in_processes(
            hammer_limit, [("start_per_ip", "25/m,40/h", 40, None)] * 2
        )
        assert sum(allowed) == 25, allowed

    @kodmobi({"start_per_ip": "3/m"})
    def test_window_edge_on_redis(self) -> None:
        cache.clear()
        with time_machine.travel("2026-11-28 10:00:00Z", tick=False) as clock:
            limits.check_rate("start_per_ip", "203.0.113.1")
            clock.shift(59)
            limits.check_rate("start_per_ip", "203.0.113.1")
            limits.check_rate("start_per_ip", "203.0.113.1")
            clock.shift(2)
            limits.check_rate("start_per_ip", "203.0.113.1")
            assert (
                refused(
                    lambda: limits.check_rate("start_per_ip", "203.0.113.1")
                ).retry_after
                == 58
            )


class KeysAndPolicyTests(SimpleTestCase):
    def test_keys_are_keyed_with_the_sites_secret(self) -> None:
        first = limits.digest("+79991234567")
        with override_settings(SECRET_KEY="another-secret-key-for-this-test-only"):
            assert limits.digest("+79991234567") != first
        assert len(first) == 32

    def test_every_tag_goes(self) -> None:
        assert (
            guards.canonical_for_limits("a+b+c@example.com", IdentifierKind.EMAIL)
            == "a@example.com"
        )

    @kodmobi(SMS_COUNTRIES=["RU"])
    def test_a_phone_abroad_is_sent_to_the_messenger_when_none_is_named(self) -> None:
        uk = "+447400123456"
        assert guards.check_destination(uk, IdentifierKind.PHONE, None) == "telegram"
        assert guards.check_destination(uk, IdentifierKind.PHONE, "telegram") == (
            "telegram"
        )
