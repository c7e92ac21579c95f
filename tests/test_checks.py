"""System checks: exact IDs for each broken setting."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import SimpleTestCase, override_settings

from django_kodmobi.checks import check_settings

BACKENDS = ["django_kodmobi.backends.KodMobiBackend"]
GOOD = {"PUBLIC_KEY": "pk", "SECRET_KEY": "sk"}
#: A shared cache, as production has: checks read the backend, never connect.
SHARED_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/9",
    }
}


def ids(**kodmobi: Any) -> list[str]:
    with override_settings(
        KODMOBI=kodmobi, AUTHENTICATION_BACKENDS=BACKENDS, CACHES=SHARED_CACHE
    ):
        return [message.id for message in check_settings()]  # type: ignore[misc]


class CheckTests(SimpleTestCase):
    def test_good_settings_pass(self) -> None:
        assert ids(**GOOD) == []

    def test_missing_keys(self) -> None:
        assert ids() == ["kodmobi.E001", "kodmobi.E002"]
        assert ids(SANDBOX=True) == ["kodmobi.W001"]

    def test_bad_values(self) -> None:
        cases: list[dict[str, Any]] = [
            {"MAX_ATTEMPTS": 0},
            {"MAX_RESENDS": "3"},
            {"RESEND_COOLDOWN": True},
            {"MAX_RETRIES": -1},
            {"CODE_LENGTH": 10},
            {"TIMEOUT": 0},
            {"TIMEOUT": (1, 0)},
            {"TIMEOUT": "10"},
            {"TIMEOUT": True},
            {"IDENTIFIERS": "phone"},
            {"IDENTIFIERS": ["fax"]},
            {"API_URL": "api.kod.mobi"},
        ]
        for bad in cases:
            assert ids(**GOOD, **bad) == ["kodmobi.E003"], bad
        assert ids(**GOOD, SANDBOX="yes") == ["kodmobi.E003", "kodmobi.W001"]

    def test_values_at_the_edges(self) -> None:
        allowed: list[dict[str, Any]] = [
            {"MAX_ATTEMPTS": 1},
            {"MAX_RETRIES": 0},
            {"CODE_LENGTH": 8},
            {"DEADLINE": 0.5},
            {"SESSION_TTL": 600},
            {"FAILURE_COOLDOWNS": [(1, 1)]},
            {"IDENTIFIERS": ["phone", "email"]},
            {"IDENTIFIERS": ["email"]},
            {"CALLBACK_BASE_URL": "https://example.com"},
            {"CALLBACK_BASE_URL": ""},
            {"BLOCKED_NUMBER_TYPES": ["PREMIUM_RATE"]},
            {"BLOCKED_NUMBER_TYPES": []},
            {"SMS_COUNTRIES": ["RU", "KZ"]},
            {"SMS_COUNTRIES": None},
            {"TRUSTED_PROXY_COUNT": 0},
            {"TIMEOUT": 0.5},
            {"TIMEOUT": (0.5, 0.5)},
            {"API_URL": "https://api.example.com"},
            {"API_URL": "http://kodmobi.internal:8080"},  # through a proxy
            {"CALLBACK_BASE_URL": "http://127.0.0.1:8000"},
            {"API_LOGIN": "token"},
            {"API_LOGIN": "jwt"},
            {"API_LOGIN": "session"},
        ]
        for good in allowed:
            assert ids(**GOOD, **good) == [], good
        # Allowed, and warned about (a short code) only.
        assert ids(**GOOD, CODE_LENGTH=4) == ["kodmobi.W003"]
        assert ids(**GOOD, CODE_LENGTH=3)[0] == "kodmobi.E003"
        refused: list[dict[str, Any]] = [
            {"TRUSTED_PROXY_COUNT": -1},
            {"TRUSTED_PROXY_COUNT": "1"},
            {"CODE_LENGTH": "6"},
            {"CODE_LENGTH": 9},
            {"IDENTIFIERS": []},
            {"CALLBACK_BASE_URL": "example.com"},
        ]
        for bad in refused:
            assert ids(**GOOD, **bad) == ["kodmobi.E003"], bad

    def test_bad_hardening_values(self) -> None:
        cases: list[dict[str, Any]] = [
            {"DEADLINE": 0},
            {"DEADLINE": "10"},
            {"DEADLINE": True},
            {"SESSION_TTL": 601},
            {"SESSION_TTL": 0},
            {"MAX_FAILURES": 0},
            {"BREAKER_FAILURES": 0},
            {"BREAKER_COOLDOWN": -1},
            {"CHANNELS_FAILURE_CACHE_SECONDS": 0},
            {"SESSION_CHANNELS_CACHE_SECONDS": 0},
            {"FAILURE_COOLDOWNS": "10:900"},
            {"FAILURE_COOLDOWNS": [(10, 0)]},
            {"FAILURE_COOLDOWNS": [(10,)]},
            {"FAILURE_COOLDOWNS": [(0, 900)]},
            {"BLOCKED_NUMBER_TYPES": "PREMIUM_RATE"},
            {"BLOCKED_NUMBER_TYPES": ["PREMIUM"]},
            {"SMS_COUNTRIES": "RU"},
            {"SMS_COUNTRIES": ["XX"]},
            {"SMS_COUNTRIES": 7},
            {"BLOCKED_NUMBER_TYPES": 7},
            {"RATE_LIMITS": {"start_per_ip": "20/m,oops"}},
            {"RATE_LIMITS": {"start_per_ip": ","}},
            {"RATE_LIMITS": {"start_per_everyone": "1/m"}},
        ]
        for bad in cases:
            assert ids(**GOOD, **bad) == ["kodmobi.E003"], bad

    def test_good_hardening_values(self) -> None:
        assert (
            ids(
                **GOOD,
                DEADLINE=2.5,
                SESSION_TTL=600,
                FAILURE_COOLDOWNS=[(5, 60), (10, 600)],
                BLOCKED_NUMBER_TYPES=["premium_rate", "VOIP"],
                SMS_COUNTRIES=["ru", "KZ"],
                RATE_LIMITS={"start_per_ip": "20/m, 60/h", "sends_global": ""},
            )
            == []
        )
        assert ids(**GOOD, SMS_COUNTRIES=None, FAILURE_COOLDOWNS=()) == []

    def test_good_values(self) -> None:
        assert (
            ids(**GOOD, TIMEOUT=5, MAX_RETRIES=0, IDENTIFIERS=["email"], CODE_LENGTH=8)
            == []
        )
        assert ids(**GOOD, TIMEOUT=[2, 5.5]) == []

    def test_settings_not_a_dict(self) -> None:
        with override_settings(KODMOBI=["nope"]):
            assert [m.id for m in check_settings()] == ["kodmobi.E003"]

    def test_dotted_paths(self) -> None:
        assert ids(**GOOD, USER_RESOLVER="nowhere.resolve") == ["kodmobi.E004"]
        assert ids(**GOOD, SIGNUP="tests.test_services.allow_example_org") == []

    def test_backend_missing(self) -> None:
        with override_settings(
            KODMOBI=GOOD,
            AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"],
            CACHES=SHARED_CACHE,
        ):
            assert [m.id for m in check_settings()] == ["kodmobi.E005"]
            # A site serving neither the pages nor the API only delivers codes.
            with override_settings(ROOT_URLCONF="tests.urls_delivery_only"):
                assert [m.id for m in check_settings()] == []

    def test_paths(self) -> None:
        assert ids(**GOOD, PATHS={"check": "/v2/check"}) == []
        assert ids(**GOOD, PATHS={"nope": "/x"}) == ["kodmobi.E006"]
        assert ids(**GOOD, PATHS=["x"]) == ["kodmobi.E006"]

    def test_region(self) -> None:
        assert ids(**GOOD, DEFAULT_REGION="ru") == []
        assert ids(**GOOD, DEFAULT_REGION="XX") == ["kodmobi.E007"]

    def test_sandbox_in_production(self) -> None:
        assert ids(
            PUBLIC_KEY="11111111-1111-4111-8111-111111111111", SECRET_KEY="s"
        ) == ["kodmobi.W001"]
        assert ids(**GOOD, API_URL="http://127.0.0.1:8765") == ["kodmobi.W001"]
        assert ids(**GOOD, API_URL="http://localhost:8765") == ["kodmobi.W001"]
        with override_settings(DEBUG=True):
            assert ids(**GOOD, API_URL="http://127.0.0.1:8765") == []

    def test_short_codes_in_production(self) -> None:
        assert ids(**GOOD, CODE_LENGTH=4) == ["kodmobi.W003"]
        with override_settings(DEBUG=True):
            assert ids(**GOOD, CODE_LENGTH=4) == []

    def test_unknown_keys(self) -> None:
        assert ids(**GOOD, MAX_ATEMPTS=3) == ["kodmobi.W002"]

    def test_registered(self) -> None:
        with (
            override_settings(KODMOBI={}),
            pytest.raises(Exception, match="kodmobi.E001"),
        ):
            call_command("check")


class SettingsTests(SimpleTestCase):
    def test_defaults_and_overrides(self) -> None:
        from django_kodmobi.conf import settings

        with override_settings(
            KODMOBI={"TIMEOUT": 4, "DEFAULT_REGION": "ru", "SIGNUP": True}
        ):
            assert settings.TIMEOUT == (4.0, 4.0)
            assert settings.DEFAULT_REGION == "RU"
            assert settings.SIGNUP is True
            assert settings.API_URL == "https://api.kod.mobi"
            assert settings.MAX_ATTEMPTS == 5
            assert settings.USER_RESOLVER is None
        with override_settings(KODMOBI={"SIGNUP": None, "USER_RESOLVER": len}):
            assert settings.SIGNUP is False
            assert settings.USER_RESOLVER is len
        with override_settings(KODMOBI="broken"):
            assert settings.MAX_RESENDS == 3
