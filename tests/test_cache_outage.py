"""A login that survives its own infrastructure: the cache (Redis) down.

The policy (README, Security): the rate limits fail closed, with 503 and
``Retry-After``, since nothing can be counted; everything else that uses
the cache only to save work (the circuit breaker, channel lists) fails
open. Never a 500, and no row is left without its outcome.

The outage is real: the default cache points at a Redis port nobody
listens on, so every call to it fails as it would in production.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_kodmobi import breaker
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import OTPSession, Status
from django_kodmobi.services import start_login
from django_kodmobi.testing import KodMobiTestMixin

pytest.importorskip("redis")

EMAIL = "anna@example.com"
#: A Redis nobody answers: connection refused at once.
DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}
ON = {
    "start_per_ip": "20/m",
    "start_per_identifier": "5/10m",
    "sends_per_identifier": "10/h",
    "sends_per_device": "10/h",
    "sends_global": "1000/h",
    "verify_per_ip": "30/m",
}


def kodmobi(**extra: Any) -> dict[str, Any]:
    return {**settings.KODMOBI, **extra}


class CacheOutageTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        get_user_model().objects.create_user("anna", EMAIL)
        self.api = APIClient()

    def outage(self, **limits: str) -> Any:
        off = dict.fromkeys(settings.RATE_LIMIT_NAMES, "")
        return override_settings(
            CACHES=DEAD_REDIS, KODMOBI=kodmobi(RATE_LIMITS={**off, **limits})
        )

    def test_the_login_page_and_config_still_answer(self) -> None:
        with self.outage(**ON):
            assert Client().get(reverse("kodmobi:login")).status_code == HTTPStatus.OK
            config = self.api.get(reverse("kodmobi_api:config"))
            assert config.status_code == HTTPStatus.OK

    def test_a_start_is_refused_with_503_and_retry_after(self) -> None:
        with self.outage(**ON):
            response = self.api.post(
                reverse("kodmobi_api:start"), {"identifier": EMAIL}, format="json"
            )
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert response.json()["code"] == "unavailable"
        assert response["Retry-After"] == "15"
        assert not OTPSession.objects.exists(), "refused before any row"
        assert self.kodmobi.calls["create"] == 0

    def test_the_page_says_so_with_503(self) -> None:
        with self.outage(**ON):
            response = Client().post(reverse("kodmobi:login"), {"identifier": EMAIL})
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert response["Retry-After"] == "15"
        assert "unavailable for a moment" in response.content.decode()

    def test_a_check_is_refused_without_spending_its_attempt(self) -> None:
        flow = start_login(EMAIL)
        with self.outage(**ON):
            response = self.api.post(
                reverse("kodmobi_api:verify"),
                {
                    "flow": f"{flow.session.pk}.{flow.token}",
                    "code": self.kodmobi_code(EMAIL),
                },
                format="json",
            )
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        flow.session.refresh_from_db()
        assert (flow.session.status, flow.session.attempts) == (Status.SENT, 0)
        assert self.kodmobi.calls["check"] == 0

    def test_with_the_limits_off_a_login_works_through_the_outage(self) -> None:
        with self.outage():
            started = self.api.post(
                reverse("kodmobi_api:start"), {"identifier": EMAIL}, format="json"
            )
            assert started.status_code == HTTPStatus.CREATED
            verified = self.api.post(
                reverse("kodmobi_api:verify"),
                {"flow": started.json()["flow"], "code": self.kodmobi_code(EMAIL)},
                format="json",
            )
        assert verified.status_code == HTTPStatus.OK
        assert OTPSession.objects.get().status == Status.CONSUMED

    def test_the_breaker_fails_open(self) -> None:
        with self.outage():
            with breaker.guard():
                pass
            breaker.reset()  # no error either

    def test_the_service_says_unavailable_not_rate_limited(self) -> None:
        with self.outage(**ON), pytest.raises(VerificationError) as info:
            start_login(EMAIL)
        assert (info.value.reason, info.value.retry_after) == (
            Failure.UNAVAILABLE_HERE,
            15,
        )
        assert info.value.http_status == HTTPStatus.SERVICE_UNAVAILABLE


class RowsEndWithTheirReasonTests(KodMobiTestMixin, TestCase):
    def test_an_unforeseen_error_after_the_row_is_written_finishes_it(self) -> None:
        from django_kodmobi import signals

        def broken(**kwargs: Any) -> None:
            raise RuntimeError("a receiver that breaks")

        signals.session_created.connect(broken, weak=False)
        self.addCleanup(signals.session_created.disconnect, broken)
        with pytest.raises(RuntimeError):
            start_login(EMAIL)
        row = OTPSession.objects.get()
        assert (row.status, row.last_error) == (Status.FAILED, "RuntimeError")
        assert list(row.events.values_list("kind", "detail")) == [
            ("created", ""),
            ("failed", "RuntimeError"),
        ]
