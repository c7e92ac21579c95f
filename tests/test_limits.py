"""Rate limits on starting and verifying, counted in Django's cache."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import SimpleTestCase, TestCase, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.limits import Rate, parse_rate
from django_kodmobi.models import OTPSession
from django_kodmobi.services import ClientInfo, start_login, verify_code
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import limits, rate_limit_keys, session_request


class ParseTests(SimpleTestCase):
    def test_rates(self) -> None:
        assert parse_rate("20/m") == Rate(20, 60)
        assert parse_rate(" 3 / 10m ") == Rate(3, 600)
        assert parse_rate("100/d") == Rate(100, 86400)
        assert parse_rate("5/30s") == Rate(5, 30)

    def test_bad_rates(self) -> None:
        for text in ["", "20", "0/m", "20/w", "x/m", "3/0m"]:
            # The error names what was wrong and what would be right.
            with pytest.raises(ValueError, match=f"'20/m'.*{text!r}$"):
                parse_rate(text)


# One clock: no test here may depend on where the wall clock stands.
@time_machine.travel("2026-11-28 10:00:30Z", tick=False)
class LimitTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        cache.clear()

    def test_start_per_ip(self) -> None:
        client = ClientInfo("203.0.113.5")
        with limits(start_per_ip="3/m"):
            for n in range(3):
                start_login(f"+7999123456{n}", client=client)
            with pytest.raises(VerificationError) as info:
                start_login("+79991234569", client=client)
            # Another address is counted apart.
            start_login("+79991234569", client=ClientInfo("203.0.113.6"))
        assert info.value.reason is Failure.RATE_LIMITED
        assert 1 <= (info.value.retry_after or 0) <= 61
        # The refused start wrote no row and sent nothing.
        assert OTPSession.objects.count() == 4
        assert len(self.kodmobi.inbox.messages()) == 4

    def test_the_window_slides_and_forgets_what_left_it(self) -> None:
        from django_kodmobi.limits import digest

        client = ClientInfo("203.0.113.5")
        key = f"kodmobi:rate:start_per_ip:{digest(client.ip or '-')}:2/60"

        def start_at(second: int, n: int) -> None:
            with time_machine.travel(f"2026-11-28 10:01:{second:02}Z", tick=False):
                start_login(f"+7999123456{n}", client=client)

        def uses() -> int:
            from django_kodmobi.limits import _redis_client

            redis = _redis_client(key)
            if redis is not None:
                return int(redis.zcard(cache.make_and_validate_key(key)))
            return len(cache.get(key))

        with limits(start_per_ip="2/m"):
            start_at(0, 0)
            start_at(40, 1)
            with pytest.raises(VerificationError) as info:
                start_at(50, 2)  # two in the last minute
            assert info.value.retry_after == 10  # until the first leaves it
            with time_machine.travel("2026-11-28 10:02:01Z", tick=False):
                start_login("+79991234563", client=client)  # the first left
                with pytest.raises(VerificationError):
                    start_login("+79991234564", client=client)  # 40 s one stays
                # What left the window is forgotten: a log never outgrows
                # its limit, however long the traffic goes on.
                assert uses() == 2

    def test_counted_on_after_redis_forgets_its_scripts(self) -> None:
        from django_kodmobi.limits import _redis_client

        redis = _redis_client("any")
        if redis is None:
            pytest.skip("rate limits count in Redis only with CACHE_URL=redis")
        client = ClientInfo("203.0.113.5")
        with limits(start_per_ip="2/m"):
            start_login("+79991234560", client=client)
            redis.script_flush()  # a restart, or an operator's SCRIPT FLUSH
            start_login("+79991234561", client=client)
            with pytest.raises(VerificationError) as info:
                start_login("+79991234562", client=client)
        assert info.value.reason is Failure.RATE_LIMITED

    def test_start_per_identifier_counts_the_normalised_form(self) -> None:
        rates = {
            "start_per_identifier": "2/10m",
            "start_per_ip": "",
            "verify_per_ip": "",
        }
        with override_settings(
            KODMOBI={**settings.KODMOBI, "DEFAULT_REGION": "RU", "RATE_LIMITS": rates}
        ):
            start_login("+79991234567")
            start_login("8 (999) 123-45-67")
            with pytest.raises(VerificationError) as info:
                start_login("8-999-123-45-67")
        assert info.value.reason is Failure.RATE_LIMITED
        # Fixed windows: the wait runs to the end of the current 10 minutes.
        assert 1 <= (info.value.retry_after or 0) <= 601

    def test_verify_per_ip(self) -> None:
        flow = start_login("+79991234567")
        request = session_request()
        with limits(verify_per_ip="2/m"):
            for _ in range(2):
                with pytest.raises(VerificationError) as wrong:
                    verify_code(flow.session.pk, flow.token, "12", request=request)
                assert wrong.value.reason is Failure.INVALID_CODE
            with pytest.raises(VerificationError) as info:
                verify_code(
                    flow.session.pk,
                    flow.token,
                    self.kodmobi_code("+79991234567"),
                    request=request,
                )
        assert info.value.reason is Failure.RATE_LIMITED

    def test_api_answers_429_with_retry_after(self) -> None:
        api = APIClient()
        with limits(start_per_ip="1/h"):
            assert (
                api.post(
                    reverse("kodmobi_api:start"),
                    {"identifier": "a@example.com"},
                    format="json",
                ).status_code
                == 201
            )
            response = api.post(
                reverse("kodmobi_api:start"),
                {"identifier": "b@example.com"},
                format="json",
            )
        assert response.status_code == 429
        assert response.json()["code"] == "rate_limited"
        assert 1 <= int(response["Retry-After"]) <= 3601

    @limits(verify_per_ip="2/m")
    def test_a_use_leaves_the_window_exactly_when_it_is_a_period_old(self) -> None:
        from django_kodmobi import limits as limits_module

        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            limits_module.check_rate("verify_per_ip", "203.0.113.4")
            clock.shift(1)
            limits_module.check_rate("verify_per_ip", "203.0.113.4")
            clock.move_to("2026-11-28 10:00:59.5Z")
            with pytest.raises(VerificationError):
                limits_module.check_rate("verify_per_ip", "203.0.113.4")
            clock.move_to("2026-11-28 10:01Z")  # the first use is a minute old: out
            limits_module.check_rate("verify_per_ip", "203.0.113.4")

    def test_limit_off_counts_nothing(self) -> None:
        with limits(start_per_ip=""):
            for n in range(5):
                start_login(f"+7999123456{n}", client=ClientInfo("203.0.113.5"))
        assert self.kodmobi.calls["create"] == 5
        assert rate_limit_keys() == []

    def test_without_a_shared_cache_counts_nothing_or_per_process(self) -> None:
        with (
            override_settings(
                CACHES={
                    "default": {
                        "BACKEND": "django.core.cache.backends.dummy.DummyCache"
                    }
                }
            ),
            limits(start_per_ip="1/m"),
        ):
            for n in range(3):
                start_login(f"+7999123456{n}", client=ClientInfo("203.0.113.5"))
        # A cache that keeps nothing limits nothing (hence check kodmobi.W004).
        assert self.kodmobi.calls["create"] == 3


class LimitCheckTests(SimpleTestCase):
    def ids(self, **kodmobi: Any) -> list[str]:
        from django_kodmobi.checks import check_settings

        good = {"PUBLIC_KEY": "pk", "SECRET_KEY": "sk", **kodmobi}
        with override_settings(
            KODMOBI=good,
            AUTHENTICATION_BACKENDS=["django_kodmobi.backends.KodMobiBackend"],
        ):
            return [m.id for m in check_settings()]  # type: ignore[misc]

    def test_bad_limits(self) -> None:
        assert self.ids(RATE_LIMITS={"start_per_ip": "lots"}) == ["kodmobi.E003"]
        assert self.ids(RATE_LIMITS={"per_moon": "1/d"}) == ["kodmobi.E003"]
        assert self.ids(RATE_LIMITS=["20/m"]) == ["kodmobi.E003"]

    def test_process_local_cache_in_production(self) -> None:
        local = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        }
        shared = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:6379/9",
            }
        }
        off = dict.fromkeys(settings.RATE_LIMIT_NAMES, "")
        with override_settings(CACHES=local):
            assert self.ids() == ["kodmobi.W004"]
            assert self.ids(RATE_LIMITS=off) == []
        nothing = {
            "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
        }
        with override_settings(CACHES=nothing):
            assert self.ids() == ["kodmobi.W004"]
        with override_settings(CACHES=shared):
            assert self.ids() == []

    def test_shared_cache_that_counts_per_process_in_production(self) -> None:
        pytest.importorskip("django_redis")
        redis = {"LOCATION": "redis://127.0.0.1:6379/9"}
        cases: list[tuple[str, dict[str, Any], bool]] = [
            ("django.core.cache.backends.db.DatabaseCache", {"LOCATION": "t"}, True),
            (
                "django.core.cache.backends.filebased.FileBasedCache",
                {"LOCATION": "/tmp/kodmobi-cache"},
                True,
            ),
            ("django_redis.cache.RedisCache", redis, False),
            (
                "django_redis.cache.RedisCache",
                {
                    **redis,
                    "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
                },
                True,
            ),
        ]
        off = dict.fromkeys(settings.RATE_LIMIT_NAMES, "")
        for backend, options, warned in cases:
            with override_settings(CACHES={"default": {"BACKEND": backend, **options}}):
                assert self.ids() == (["kodmobi.W005"] if warned else []), backend
                assert self.ids(RATE_LIMITS=off) == []
        broken = {"default": {"BACKEND": "no.such.Cache"}}
        with override_settings(CACHES=broken):
            assert self.ids() == []  # Django reports the cache itself
