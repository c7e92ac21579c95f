"""Races, with real concurrent callers on PostgreSQL.

Each caller is a thread with its own database connection, released together
by a barrier, against the one in-process kod.mobi sandbox. SQLite's
in-memory test database is private to one connection, so these run on
PostgreSQL only (the second pass of ``.ci/run``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db import connection, connections
from django.test import TransactionTestCase, override_settings

from django_kodmobi import devices, guards, services
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import FailureStreak, KodSession, OTPSession, Status
from django_kodmobi.services import ClientInfo, Flow, start_login
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import other_code, session_request

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"
)
EMAIL = "anna@example.com"


def race(callers: list[Callable[[], Any]]) -> list[Any]:
    """Run every caller at once; return each one's result or exception."""
    barrier = threading.Barrier(len(callers))
    results: list[Any] = [None] * len(callers)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = callers[index]()
        except Exception as exc:  # noqa: BLE001 - the outcome is the result
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(callers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def outcomes(results: list[Any]) -> Counter[str]:
    return Counter(
        r.reason.value if isinstance(r, VerificationError) else type(r).__name__
        for r in results
    )


@override_settings(KODMOBI={**settings.KODMOBI, "SIGNUP": True})
class RaceTests(KodMobiTestMixin, TransactionTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.kodmobi.config.max_wrong_codes = 1000
        self.kodmobi.config.destination_max_wrong_codes = 1000
        get_user_model().objects.create_user("anna", EMAIL)

    def wrong(self) -> str:
        return other_code(self.kodmobi_code(EMAIL))

    def test_fifty_wrong_codes_at_once_reach_kodmobi_five_times(self) -> None:
        flow = start_login(EMAIL)
        wrong = self.wrong()
        results = race([self.guesser(flow, wrong)] * 50)
        assert self.kodmobi.calls["check"] <= 5
        counts = outcomes(results)
        # Every one refused: a wrong code, the code locked, or, while one of
        # the five checks is still in flight and may be right, "try again
        # in a second" (verify._budget_spent).
        refused = counts["invalid_code"] + counts["locked"] + counts["rate_limited"]
        assert refused == 50, counts
        assert all(
            r.retry_after == 1
            for r in results
            if isinstance(r, VerificationError) and r.reason is Failure.RATE_LIMITED
        )
        assert KodSession.objects.get().attempts == 5
        assert OTPSession.objects.get(pk=flow.session.pk).status == Status.LOCKED

    def test_twenty_right_codes_at_once_log_in_exactly_once(self) -> None:
        logins: list[Any] = []
        lock = threading.Lock()

        def count(**kwargs: Any) -> None:
            with lock:
                logins.append(kwargs["user"])

        user_logged_in.connect(count, weak=False)
        self.addCleanup(user_logged_in.disconnect, count)
        for round_ in range(20):
            flow = start_login(EMAIL)
            code = self.kodmobi_code(EMAIL)
            before = len(logins)
            results = race([self.logger_in(flow, code)] * 20)
            counts = outcomes(results)
            assert len(logins) - before == 1, (round_, counts)
            assert counts["User"] == 1, (round_, counts)
            # Past the code's five checks nobody waits: a request that came
            # while one was in flight is told to retry in a second.
            assert set(counts) <= {"User", "already_used", "rate_limited"}, counts
            assert OTPSession.objects.get(pk=flow.session.pk).status == Status.CONSUMED
            with pytest.raises(VerificationError) as info:
                self.logger_in(flow, code)()
            assert info.value.reason.value == "already_used"
            self.kodmobi.advance(181)

    @staticmethod
    def logger_in(flow: Flow, code: str) -> Callable[[], Any]:
        def log_in() -> Any:
            return services.verify_and_log_in(
                session_request(), flow.session.pk, flow.token, code
            )

        return log_in

    @staticmethod
    def guesser(flow: Flow, code: str) -> Callable[[], Any]:
        return lambda: services.verify_code(flow.session.pk, flow.token, code)

    def test_five_flows_on_one_code_share_one_budget(self) -> None:
        flows = [start_login(EMAIL) for _ in range(5)]
        assert len({f.session.kodmobi_session_id for f in flows}) == 1
        wrong = self.wrong()
        results = race([self.guesser(flow, wrong) for flow in flows for _ in range(4)])
        assert self.kodmobi.calls["check"] == 5
        # A guess that found the budget spent while a check was in flight is
        # told to retry in a second rather than wait for it.
        assert set(outcomes(results)) <= {"invalid_code", "locked", "rate_limited"}
        assert KodSession.objects.get().attempts == 5
        assert set(OTPSession.objects.values_list("status", flat=True)) == {
            Status.LOCKED
        }


class StreakRaceTests(TransactionTestCase):
    def test_concurrent_failures_are_all_counted(self) -> None:
        from django_kodmobi import guards
        from django_kodmobi.models import FailureStreak

        phone = "+79991234567"
        results = race(
            [lambda: guards.record_failure(phone, "203.0.113.9") for _ in range(20)]
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        assert FailureStreak.objects.get(pk=guards.streak_key(phone)).failures == 20
        assert sorted(FailureStreak.objects.values_list("failures", flat=True)) == [
            20,
            20,
        ]


class ContactRaceTests(TransactionTestCase):
    def test_eight_accounts_claiming_one_number_one_wins(self) -> None:
        from django_kodmobi.models import Contact
        from django_kodmobi.services.contacts import claim

        user_model = get_user_model()
        contacts = [
            Contact.objects.create(
                user=user_model.objects.create_user(f"u{n}"),
                kind="phone",
                value="+79991234567",
            )
            for n in range(8)
        ]
        results = race([functools.partial(claim, c) for c in contacts])
        assert outcomes(results) == Counter({"NoneType": 1, "contact_unavailable": 7})
        assert Contact.objects.verified().count() == 1

    def test_two_first_contacts_verified_at_once_one_is_primary(self) -> None:
        from django_kodmobi.models import Contact
        from django_kodmobi.services.contacts import promote_if_none

        user = get_user_model().objects.create_user("anna")
        contacts = [
            Contact.objects.create(user=user, kind="email", value=f"a{n}@example.com")
            for n in range(6)
        ]
        results = race([functools.partial(promote_if_none, c) for c in contacts])
        assert outcomes(results) == Counter({"NoneType": 6})
        assert Contact.objects.filter(user=user, primary=True).count() == 1


class OwnerKeepsLoggingInRaceTests(KodMobiTestMixin, TransactionTestCase):
    """Device trust under concurrent strangers (OWASP device cookies)."""

    def setUp(self) -> None:
        super().setUp()
        get_user_model().objects.create_user("anna", EMAIL)

    def test_125_wrong_codes_at_once_from_25_addresses_spare_the_owner(self) -> None:
        def stranger(number: int) -> Callable[[], Any]:
            def guess_five_times() -> None:
                for _ in range(5):
                    guards.record_failure(EMAIL, f"203.0.113.{number}")

            return guess_five_times

        results = race([stranger(n) for n in range(1, 26)])
        assert results == [None] * 25
        own = FailureStreak.objects.get(pk=guards.streak_key(EMAIL))
        assert own.failures == 125, "every concurrent failure counted"
        with pytest.raises(VerificationError) as info:
            start_login(EMAIL, client=ClientInfo("198.51.100.7", "a new browser"))
        assert info.value.reason.value == "too_many_failures"
        owner = ClientInfo("198.51.100.7", "Firefox", devices.issue(EMAIL))
        flow = start_login(EMAIL, client=owner)
        user = services.verify_and_log_in(
            session_request(), flow.session.pk, flow.token, self.kodmobi_code(EMAIL)
        )
        assert user.get_username() == "anna"

    @override_settings(KODMOBI={**settings.KODMOBI, "DEADLINE": 30.0})
    def test_32_verifies_on_a_spent_code_are_answered_at_once(self) -> None:
        self.kodmobi.config.max_wrong_codes = 1000
        first = start_login(EMAIL)
        wrong = other_code(self.kodmobi_code(EMAIL))
        for _ in range(5):
            with contextlib.suppress(VerificationError):
                services.verify_code(first.session.pk, first.token, wrong)
        # Flows that joined the spent code (it is still alive at kod.mobi).
        joined = [start_login(EMAIL) for _ in range(32)]
        assert {f.session.kodmobi_session_id for f in joined} == {
            first.session.kodmobi_session_id
        }
        started = time.monotonic()
        results = race([RaceTests.guesser(flow, wrong) for flow in joined])
        elapsed = time.monotonic() - started
        assert outcomes(results) == Counter({"locked": 32})
        # Waiting on other requests took DEADLINE + 1 (31 s) here before.
        assert elapsed < 10, elapsed
        assert self.kodmobi.calls["check"] == 5


@override_settings(
    KODMOBI={**settings.KODMOBI, "BREAKER_FAILURES": 3, "BREAKER_COOLDOWN": 1}
)
class HalfOpenProbeRaceTests(TransactionTestCase):
    """On the suite's cache (Redis in the second pass of .ci/run), as every
    worker shares it."""

    def test_ten_callers_at_once_make_one_probe(self) -> None:
        from django_kodmobi import breaker
        from django_kodmobi.client import KodMobiConnectionError

        breaker.reset()
        self.addCleanup(breaker.reset)
        probes: list[int] = []

        def caller() -> None:
            with breaker.guard():
                probes.append(1)
                time.sleep(0.2)  # the probe's call is in flight

        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            for _ in range(3):
                with (
                    contextlib.suppress(KodMobiConnectionError),
                    breaker.guard(),
                ):
                    raise KodMobiConnectionError("no answer")
            clock.shift(1)
            results = race([caller] * 10)
        assert len(probes) == 1
        assert sum(isinstance(r, breaker.CircuitOpenError) for r in results) == 9
