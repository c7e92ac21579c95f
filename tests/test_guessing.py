"""Guessing a code: the budgets that bound it, and who enforces them.

Where kod.mobi enforces a rule too (its own 5-strike block), the sandbox is
told to be lenient and the test counts kod.mobi's checks, so a pass proves
the app refused without asking.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.db.models import QuerySet
from django.test import TestCase, override_settings
from django.utils import timezone

from django_kodmobi import guards, services
from django_kodmobi.client import SessionChannel
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import FailureStreak, KodSession, OTPSession, Status
from django_kodmobi.sandbox import Fault, FaultKind
from django_kodmobi.services import ClientInfo, Flow, start_login, verify_code
from django_kodmobi.services import verify as verify_module
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import other_code, session_request

PHONE = "+79991234567"
EMAIL = "anna@example.com"
ATTACKER = ClientInfo("203.0.113.66", "curl")
VICTIM = ClientInfo("198.51.100.7", "Firefox")


def kodmobi(**extra: Any) -> dict[str, Any]:
    return {**settings.KODMOBI, **extra}


class GuessTestCase(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        # kod.mobi's own block would hide the app's: make it lenient.
        self.kodmobi.config.max_wrong_codes = 1000
        self.kodmobi.config.destination_max_wrong_codes = 1000

    def wrong(self, identifier: str = PHONE) -> str:
        return other_code(self.kodmobi_code(identifier))

    def guess(self, flow: Flow, code: str, ip: str | None = None) -> Failure | None:
        request = session_request()
        if ip:
            request.META["REMOTE_ADDR"] = ip
        try:
            verify_code(flow.session.pk, flow.token, code, request=request)
        except VerificationError as exc:
            return exc.reason
        return None


class AttemptBudgetTests(GuessTestCase):
    """Defect 3: the cap is per kod.mobi session, not per local flow."""

    def test_five_flows_on_one_code_share_five_checks(self) -> None:
        flows = [start_login(PHONE, client=VICTIM) for _ in range(5)]
        assert len({f.session.kodmobi_session_id for f in flows}) == 1
        wrong = self.wrong()
        outcomes = [self.guess(flow, wrong) for flow in flows for _ in range(2)]
        assert self.kodmobi.calls["check"] == 5
        # The fifth wrong code spends the budget: every flow on it is locked.
        assert outcomes[:4] == [Failure.INVALID_CODE] * 4
        assert set(outcomes[4:]) == {Failure.LOCKED}
        assert KodSession.objects.get().attempts == 5
        assert set(OTPSession.objects.values_list("status", flat=True)) == {
            Status.LOCKED
        }

    def test_the_right_code_is_refused_once_the_budget_is_spent(self) -> None:
        flow = start_login(PHONE)
        for _ in range(5):
            assert self.guess(flow, self.wrong()) in (
                Failure.INVALID_CODE,
                Failure.LOCKED,
            )
        assert self.guess(flow, self.kodmobi_code(PHONE)) is Failure.LOCKED
        assert self.kodmobi.calls["check"] == 5

    def test_a_failed_last_check_locks_at_once(self) -> None:
        flow = start_login(PHONE)
        for _ in range(4):
            assert self.guess(flow, self.wrong()) is Failure.INVALID_CODE
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, frozenset({"check"}), times=1))
        assert self.guess(flow, self.kodmobi_code(PHONE)) is Failure.UNAVAILABLE
        flow.session.refresh_from_db()
        assert flow.session.status == Status.LOCKED

    @override_settings(KODMOBI=kodmobi(MAX_ATTEMPTS=3))
    def test_the_budget_is_the_setting(self) -> None:
        flow = start_login(PHONE)
        for _ in range(4):
            self.guess(flow, self.wrong())
        assert self.kodmobi.calls["check"] == 3


class FailureStreakTests(GuessTestCase):
    """Defect 2: wrong codes in a row are counted per identifier across
    sessions, with pauses per source and a hard cap for everyone."""

    def spend(self, count: int, client: ClientInfo = ATTACKER) -> list[Failure | None]:
        outcomes: list[Failure | None] = []
        while len(outcomes) < count:
            flow = start_login(PHONE, client=client)
            for _ in range(min(5, count - len(outcomes))):
                outcomes.append(self.guess(flow, self.wrong(), client.ip))
            OTPSession.objects.filter(pk=flow.session.pk).update(status=Status.EXPIRED)
            self.kodmobi.advance(181)
        return outcomes

    def test_a_flow_loaded_without_the_hint_has_its_streaks_looked_up(self) -> None:
        flow = start_login(PHONE, client=ATTACKER)
        guards.record_failure(PHONE, ATTACKER.ip)
        hinted = services.get_flow_session(flow.session.pk, flow.token)
        assert guards.check_flow_streak(hinted, ATTACKER.ip) is True
        # Loaded by other code, the flow does not say whether a streak
        # exists: not knowing must not mean "none".
        plain = OTPSession.objects.get(pk=flow.session.pk)
        with self.assertNumQueries(1):
            assert guards.check_flow_streak(plain, ATTACKER.ip) is True

    def test_ten_failures_pause_that_source_for_fifteen_minutes(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.spend(10)
            flow = start_login(PHONE, client=VICTIM)
            checks = self.kodmobi.calls["check"]
            # The guesser is paused, before kod.mobi is asked...
            with pytest.raises(VerificationError) as info:
                start_login(PHONE, client=ATTACKER)
            assert info.value.reason is Failure.TOO_MANY_FAILURES
            assert info.value.retry_after == 15 * 60
            assert (
                self.guess(flow, self.wrong(), ATTACKER.ip) is Failure.TOO_MANY_FAILURES
            )
            assert self.kodmobi.calls["check"] == checks
            # ...while the person, elsewhere, logs in.
            assert self.guess(flow, self.kodmobi_code(PHONE), VICTIM.ip) is None
            clock.shift(15 * 60)
        assert not FailureStreak.objects.exists(), "a right code clears every streak"

    def test_a_flow_without_a_streak_key_still_looks_streaks_up(self) -> None:
        # Rows from before migration 0006 carry no streak key, so loading
        # them cannot tell whether streaks exist: the check looks them up.
        with time_machine.travel("2026-11-28 10:00Z", tick=False):
            self.spend(10)
            flow = start_login(PHONE, client=VICTIM)
            OTPSession.objects.filter(pk=flow.session.pk).update(streak_key="")
            checks = self.kodmobi.calls["check"]
            assert (
                self.guess(flow, self.wrong(), ATTACKER.ip) is Failure.TOO_MANY_FAILURES
            )
            assert self.kodmobi.calls["check"] == checks

    def test_a_tier_counts_the_failures_of_that_address_only(self) -> None:
        """Nine wrong codes from one address and one from another make ten
        for the phone, but no address has made ten: nobody is paused."""
        with time_machine.travel("2026-11-28 10:00Z", tick=False):
            for _ in range(9):
                guards.record_failure(PHONE, ATTACKER.ip)
            guards.record_failure(PHONE, "203.0.113.200")
            guards.check_streak(PHONE, "203.0.113.200")
            guards.check_streak(PHONE, ATTACKER.ip)
            guards.record_failure(PHONE, ATTACKER.ip)  # its tenth
            with pytest.raises(VerificationError):
                guards.check_streak(PHONE, ATTACKER.ip)

    def test_the_pause_ends(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.spend(10)
            clock.shift(15 * 60 - 1)
            with pytest.raises(VerificationError):
                start_login(PHONE, client=ATTACKER)
            clock.shift(1)
            start_login(PHONE, client=ATTACKER)

    def test_tiers_grow(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.spend(10)
            clock.shift(15 * 60)
            self.spend(10)
            with pytest.raises(VerificationError) as info:
                start_login(PHONE, client=ATTACKER)
            assert info.value.retry_after == 2 * 3600

    @override_settings(KODMOBI=kodmobi(MAX_FAILURES=12, FAILURE_COOLDOWNS=()))
    def test_the_hard_cap_locks_untrusted_clients_for_a_day(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            outcomes = self.spend(12)
            assert outcomes.count(Failure.INVALID_CODE) == 12 - 2  # two locks
            starts = self.kodmobi.calls["create"]
            with pytest.raises(VerificationError) as info:
                start_login(PHONE, client=VICTIM)
            # Said with how long: the lock ends by itself (FAILURE_LOCK_SECONDS).
            assert (info.value.reason, info.value.retry_after) == (
                Failure.TOO_MANY_FAILURES,
                24 * 3600,
            )
            assert self.kodmobi.calls["create"] == starts
            # Another identifier is not affected.
            start_login("+79990000001", client=ATTACKER)
            clock.shift(24 * 3600 - 1)
            with pytest.raises(VerificationError):
                start_login(PHONE, client=VICTIM)
            clock.shift(1)
            start_login(PHONE, client=VICTIM)

    @override_settings(
        KODMOBI=kodmobi(
            MAX_FAILURES=12, FAILURE_COOLDOWNS=(), FAILURE_LOCK_SECONDS=3600
        )
    )
    def test_an_ended_lock_counts_from_zero_again(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.spend(12)
            clock.shift(3600)
            # One more wrong code after the lock ended does not lock again.
            self.spend(1)
            start_login(PHONE, client=VICTIM)
            assert FailureStreak.objects.get(pk=guards.streak_key(PHONE)).failures == 1

    @override_settings(KODMOBI=kodmobi(MAX_FAILURES=12, FAILURE_COOLDOWNS=()))
    def test_a_right_code_resets_the_count(self) -> None:
        self.spend(11)
        flow = start_login(PHONE, client=VICTIM)
        assert self.guess(flow, self.kodmobi_code(PHONE)) is None
        self.kodmobi.advance(181)
        self.spend(11)
        start_login(PHONE, client=VICTIM)

    @override_settings(KODMOBI=kodmobi(FAILURE_COOLDOWNS=((1, 60),)))
    def test_a_tier_at_the_first_failure(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.spend(1)
            clock.shift(59.5)
            with pytest.raises(VerificationError) as info:
                start_login(PHONE, client=ATTACKER)
            assert info.value.retry_after == 1  # never 0, and no more than left
            clock.shift(0.5)
            start_login(PHONE, client=ATTACKER)

    def test_a_streak_knows_when_it_last_grew(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.spend(1)
            clock.shift(90)
            self.spend(1)
            streaks = FailureStreak.objects.all()
            assert {(s.failures, s.updated_at) for s in streaks} == {
                (2, timezone.now())
            }

    def test_a_concurrent_first_failure_is_counted_too(self) -> None:
        """Two first failures at once: the loser of the INSERT adds its own."""
        key = guards.streak_key(PHONE)
        update = QuerySet.update
        seen: list[str] = []

        def update_before_the_other_insert(
            queryset: QuerySet[Any], **fields: Any
        ) -> int:
            if queryset.model is FailureStreak and not seen:
                seen.append("update")
                # Our UPDATE found nothing; the other request's INSERT lands.
                FailureStreak.objects.create(key=key, identifier_key=key, failures=3)
                return 0
            return update(queryset, **fields)

        with (
            time_machine.travel("2026-11-28 10:00Z", tick=False),
            mock.patch.object(QuerySet, "update", update_before_the_other_insert),
        ):
            guards.record_failure(PHONE, ATTACKER.ip)
            streak = FailureStreak.objects.get(pk=key)
            assert (streak.failures, streak.updated_at) == (4, timezone.now())

    def test_streaks_are_stored_as_hashes(self) -> None:
        self.spend(1)
        for streak in FailureStreak.objects.all():
            assert PHONE not in streak.key and PHONE[1:] not in streak.identifier_key
            assert str(ATTACKER.ip) not in streak.key


class WrongCodeRecordTests(GuessTestCase):
    """What a wrong code and a lock leave behind: rows, events, signals."""

    def test_the_audit_and_the_signals(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from django_kodmobi import signals
        from django_kodmobi.models import EventKind, OTPEvent

        received: list[tuple[str, dict[str, Any]]] = []

        def on(name: str) -> Any:
            def receiver(**kwargs: Any) -> None:
                received.append((name, kwargs))

            return receiver

        receivers = {
            "rejected": (signals.code_rejected, on("rejected")),
            "locked": (signals.session_locked, on("locked")),
            "failed": (user_login_failed, on("failed")),
        }
        for signal, receiver in receivers.values():
            signal.connect(receiver, weak=False)
            self.addCleanup(signal.disconnect, receiver)
        self.kodmobi.config.max_wrong_codes = 5
        flow = start_login(PHONE, channel="sms")
        joined = start_login(PHONE, client=VICTIM)
        request = session_request()
        for _ in range(5):
            with pytest.raises(VerificationError):
                verify_code(flow.session.pk, flow.token, self.wrong(), request=request)
        row = OTPSession.objects.get(pk=flow.session.pk)
        assert (row.failed_attempts, row.attempts, row.status) == (5, 5, Status.LOCKED)
        assert row.last_error == "ERROR_BLOCKED"
        rejected = list(
            OTPEvent.objects.filter(session=row, kind=EventKind.CODE_REJECTED)
            .order_by("at", "id")
            .values_list("channel", "detail")
        )
        assert rejected == [("sms", f"attempt {n}") for n in range(1, 6)]
        locks = OTPEvent.objects.filter(kind=EventKind.LOCKED)
        assert sorted(locks.values_list("session_id", "detail")) == sorted(
            [(flow.session.pk, "attempts spent"), (joined.session.pk, "attempts spent")]
        )
        names = [name for name, _ in received]
        assert names.count("rejected") == 5 and names.count("failed") == 5
        first = next(kwargs for name, kwargs in received if name == "rejected")
        assert (first["sender"], first["session"].pk) == (OTPSession, flow.session.pk)
        assert [
            (k["session"].failed_attempts, k["attempts_left"], k["last_attempt"])
            for name, k in received
            if name == "rejected"
        ] == [(1, 4, False), (2, 3, False), (3, 2, False), (4, 1, False), (5, 0, True)]
        failed = next(kwargs for name, kwargs in received if name == "failed")
        assert failed["sender"] == "django_kodmobi.services.verify"
        assert failed["request"] is request
        assert failed["credentials"]["kodmobi_session_id"] == flow.session.pk
        assert "4567" in failed["credentials"]["kodmobi_identifier"]
        assert PHONE not in str(failed["credentials"])
        locked = [kwargs for name, kwargs in received if name == "locked"]
        assert [
            (k["sender"], k["session"].pk, k["session"].status) for k in locked
        ] == [(OTPSession, flow.session.pk, Status.LOCKED)]


class KodMobiBlockTests(GuessTestCase):
    def test_a_destination_kodmobi_blocked_reads_as_a_pause(self) -> None:
        self.kodmobi.config.destination_max_wrong_codes = 3
        flow = start_login(PHONE)
        for _ in range(3):
            self.guess(flow, self.wrong())
        self.kodmobi.advance(181)
        with pytest.raises(VerificationError) as info:
            start_login(PHONE)
        assert (info.value.reason, info.value.retry_after) == (
            Failure.TOO_MANY_FAILURES,
            3600 - 181,
        )
        failed = OTPSession.objects.latest("created_at")
        assert (failed.status, failed.last_error) == (
            Status.FAILED,
            "ERROR_PHONE_BLOCKED",
        )


@override_settings(KODMOBI=kodmobi(SIGNUP=True))
class DoubleSubmitTests(GuessTestCase):
    """Defect 4: two requests with the right code, interleaved as the race
    interleaves them: the second checks while the first confirms."""

    def test_exactly_one_login_and_the_other_is_told_already_used(self) -> None:
        flow = start_login(EMAIL)
        code = self.kodmobi_code(EMAIL)
        loser: list[Failure | None] = []
        confirm = verify_module._confirm

        def confirm_while_a_twin_checks(
            session: OTPSession, token: str, **kw: Any
        ) -> None:
            loser.append(self.guess(flow, code))
            confirm(session, token, **kw)

        with mock.patch.object(verify_module, "_confirm", confirm_while_a_twin_checks):
            request = session_request()
            services.verify_and_log_in(request, flow.session.pk, flow.token, code)
        assert loser == [Failure.ALREADY_USED]
        assert request.user.is_authenticated
        flow.session.refresh_from_db()
        assert flow.session.status == Status.CONSUMED

    def test_upstream_expiry_after_a_wrong_code_is_expiry(self) -> None:
        # Someone else's verified flow is no twin of this one either.
        other = start_login("bob@example.com")
        verify_code(other.session.pk, other.token, self.kodmobi_code("bob@example.com"))
        flow = start_login(EMAIL)
        assert self.guess(flow, self.wrong(EMAIL)) is Failure.INVALID_CODE
        code = self.kodmobi_code(EMAIL)
        self.kodmobi.advance(181)
        assert self.guess(flow, code) is Failure.EXPIRED
        flow.session.refresh_from_db()
        assert (flow.session.status, flow.session.last_error) == (
            Status.EXPIRED,
            "ERROR_SESSION_EXPIRED",
        )

    def test_a_code_taken_by_another_flow_is_already_used(self) -> None:
        first = start_login(EMAIL)
        second = start_login(EMAIL)
        code = self.kodmobi_code(EMAIL)
        assert self.guess(first, code) is None
        assert self.guess(second, code) is Failure.ALREADY_USED
        second.session.refresh_from_db()
        assert second.session.status == Status.SENT

    def test_upstream_expiry_without_a_twin_is_expiry(self) -> None:
        flow = start_login(EMAIL)
        code = self.kodmobi_code(EMAIL)
        self.kodmobi.advance(181)  # kod.mobi's clock runs ahead of ours
        assert self.guess(flow, code) is Failure.EXPIRED
        flow.session.refresh_from_db()
        assert flow.session.status == Status.EXPIRED


class TargetedLockoutTests(GuessTestCase):
    """Defect 5: an attacker who knows someone's phone number."""

    @override_settings(KODMOBI=kodmobi(RATE_LIMITS={"start_per_identifier": "5/10m"}))
    def test_using_up_starts_from_one_address_leaves_the_person_theirs(self) -> None:
        for _ in range(5):
            start_login(PHONE, client=ATTACKER)
        with pytest.raises(VerificationError) as info:
            start_login(PHONE, client=ATTACKER)
        assert info.value.reason is Failure.RATE_LIMITED
        start_login(PHONE, client=VICTIM)

    def test_a_stranger_who_joins_a_code_cannot_lock_it(self) -> None:
        self.kodmobi.config.max_wrong_codes = 5  # kod.mobi's real block
        victim = start_login(PHONE, client=VICTIM)
        attacker = start_login(PHONE, client=ATTACKER)
        assert attacker.session.kodmobi_session_id == victim.session.kodmobi_session_id
        outcomes = [self.guess(attacker, self.wrong(), ATTACKER.ip) for _ in range(5)]
        assert outcomes == [Failure.INVALID_CODE] * 3 + [Failure.LOCKED] * 2
        assert self.kodmobi.calls["check"] == 3, "the joined share: 5 - 2"
        # The victim's flow keeps the code's last two checks.
        assert self.guess(victim, self.kodmobi_code(PHONE), VICTIM.ip) is None

    def test_the_owners_trusted_device_joining_a_strangers_code_keeps_all_checks(
        self,
    ) -> None:
        from django_kodmobi import devices

        self.kodmobi.config.max_wrong_codes = 5  # kod.mobi's real block
        start_login(PHONE, client=ATTACKER)  # the stranger's start sent it
        owner = ClientInfo(VICTIM.ip, "Firefox", devices.issue(PHONE))
        flow = start_login(PHONE, client=owner)
        for _ in range(4):
            assert self.guess(flow, self.wrong(), VICTIM.ip) is Failure.INVALID_CODE
        assert self.guess(flow, self.kodmobi_code(PHONE), VICTIM.ip) is None

    def test_flows_that_join_a_spent_code_are_locked_at_once(self) -> None:
        first = start_login(PHONE, client=VICTIM)
        for _ in range(5):
            self.guess(first, self.wrong(), VICTIM.ip)
        late = start_login(PHONE, client=ATTACKER)  # the code is alive upstream
        assert late.session.kodmobi_session_id == first.session.kodmobi_session_id
        checks = self.kodmobi.calls["check"]
        # Every check has ended: nothing in flight to wait for.
        assert self.guess(late, self.wrong(), ATTACKER.ip) is Failure.LOCKED
        assert self.kodmobi.calls["check"] == checks

    def test_a_check_that_never_got_an_answer_is_not_counted(self) -> None:
        from django_kodmobi.client import KodMobiClient

        flow = start_login(PHONE, client=VICTIM)
        with (
            mock.patch.object(KodMobiClient, "check_code", side_effect=SystemExit),
            pytest.raises(SystemExit),
        ):
            self.guess(flow, self.wrong(), VICTIM.ip)
        flow.session.refresh_from_db()
        assert flow.session.attempts == 0
        assert KodSession.objects.get().attempts == 0

    def test_a_flow_that_sent_nothing_takes_no_code(self) -> None:
        victim = start_login(PHONE, client=VICTIM)
        silent = start_login(PHONE, send=False, client=ATTACKER)
        assert silent.session.kodmobi_session_id == victim.session.kodmobi_session_id
        checks = self.kodmobi.calls["check"]
        for _ in range(5):
            assert self.guess(silent, self.wrong(), ATTACKER.ip) is Failure.EXPIRED
        assert self.kodmobi.calls["check"] == checks
        assert self.guess(victim, self.kodmobi_code(PHONE), VICTIM.ip) is None

    def test_a_joining_start_is_told_nothing_of_when_the_code_went(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            start_login(PHONE, client=VICTIM)
            clock.shift(7)
            joined = start_login(PHONE, client=ATTACKER)
            fresh = start_login("+79990000001", client=ATTACKER)
            for flow in (joined, fresh):
                flow.session.refresh_from_db()
            assert joined.session.expires_at == fresh.session.expires_at
            assert joined.session.channel_cooldowns == fresh.session.channel_cooldowns

    def test_a_joining_start_reveals_nothing_of_the_flow_in_progress(self) -> None:
        victim = start_login(PHONE, client=VICTIM)
        self.guess(victim, self.wrong(), VICTIM.ip)
        self.guess(victim, self.wrong(), VICTIM.ip)
        joined = start_login(PHONE, client=ATTACKER)
        fresh = OTPSession.objects.get(pk=joined.session.pk)
        assert (fresh.attempts, fresh.failed_attempts, fresh.attempts_left) == (0, 0, 5)
        assert fresh.resends == 0


class ResendRuleTests(GuessTestCase):
    """Resends: the app's own cooldown and cap, proven by kod.mobi's silence."""

    def test_the_local_cooldown_refuses_without_asking_kodmobi(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            flow = start_login(PHONE, channel="sms")
            # kod.mobi would send again now; this app still waits 2 s more.
            OTPSession.objects.filter(pk=flow.session.pk).update(
                channel_cooldowns={"sms": time.time() + 62}
            )
            clock.shift(60)
            with pytest.raises(VerificationError) as info:
                services.resend_code(flow.session.pk, flow.token, "sms")
            assert (info.value.reason, info.value.retry_after) == (
                Failure.RESEND_TOO_SOON,
                2,
            )
            clock.shift(1.5)
            with pytest.raises(VerificationError) as info:
                services.resend_code(flow.session.pk, flow.token, "sms")
            assert info.value.retry_after == 1  # half a second is still a wait
            assert self.kodmobi.calls["send"] == 0
            clock.shift(0.5)
            assert services.resend_code(flow.session.pk, flow.token, "sms").resends == 1

    def test_a_refused_resend_is_given_back_and_recorded(self) -> None:
        from django_kodmobi.models import EventKind, OTPEvent

        flow = start_login(PHONE, channel="sms")
        self.kodmobi.project.set_reachable(PHONE, ["sms"])
        with pytest.raises(VerificationError) as info:
            services.resend_code(flow.session.pk, flow.token, "telegram")
        assert info.value.reason is Failure.CHANNEL_UNAVAILABLE
        row = OTPSession.objects.get(pk=flow.session.pk)
        assert (row.resends, row.last_error) == (
            0,
            "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL",
        )
        event = OTPEvent.objects.filter(session=row, kind=EventKind.SEND_FAILED).get()
        assert (event.channel, event.detail) == (
            "telegram",
            "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL",
        )

    def test_the_cap_is_per_flow(self) -> None:
        from django.test import override_settings as override

        with override(KODMOBI=kodmobi(MAX_RESENDS=1)):
            first = start_login(PHONE, channel="sms")
            second = start_login("+79990000077", channel="sms")
            services.resend_code(first.session.pk, first.token, "whatsapp")
            services.resend_code(second.session.pk, second.token, "whatsapp")
            with pytest.raises(VerificationError) as info:
                services.resend_code(first.session.pk, first.token, "telegram")
        assert info.value.reason is Failure.TOO_MANY_RESENDS
        assert self.kodmobi.calls["send"] == 2

    def test_a_resend_is_recorded_with_its_channel_and_signal(self) -> None:
        from django_kodmobi import signals
        from django_kodmobi.models import EventKind, OTPEvent

        sent: list[dict[str, Any]] = []

        def receiver(**kwargs: Any) -> None:
            sent.append(kwargs)

        signals.code_sent.connect(receiver, weak=False)
        self.addCleanup(signals.code_sent.disconnect, receiver)
        flow = start_login(PHONE, channel="sms")
        OTPSession.objects.filter(pk=flow.session.pk).update(last_error="earlier")
        session = services.resend_code(flow.session.pk, flow.token, "whatsapp")
        row = OTPSession.objects.get(pk=session.pk)
        assert (row.channel, row.last_error, row.resends) == ("whatsapp", "", 1)
        assert row.channel_cooldowns["whatsapp"] > row.channel_cooldowns["sms"] - 1
        event = OTPEvent.objects.filter(session=row, kind=EventKind.RESENT).get()
        assert (event.channel, event.detail) == ("whatsapp", "resend 1")
        last = sent[-1]
        assert (
            last["sender"],
            last["session"].pk,
            last["channel"],
            last["resend"],
        ) == (
            OTPSession,
            flow.session.pk,
            "whatsapp",
            True,
        )

    def test_a_resend_that_may_have_gone_out_stays_spent(self) -> None:
        flow = start_login(PHONE, channel="sms")
        # kod.mobi did the work, then the reply was lost: a message went out.
        self.kodmobi.faults.add(Fault(FaultKind.DROP, frozenset({"send"}), times=1))
        with pytest.raises(VerificationError) as info:
            services.resend_code(flow.session.pk, flow.token, "whatsapp")
        assert info.value.reason is Failure.UNAVAILABLE
        assert OTPSession.objects.get(pk=flow.session.pk).resends == 1

    @override_settings(
        KODMOBI=kodmobi(RATE_LIMITS={"sends_per_identifier": "2/h"}, SESSION_TTL=600)
    )
    def test_resends_count_under_the_inbox_not_the_spelling(self) -> None:
        first = start_login("a.nna+x@gmail.com")
        start_login("anna@gmail.com")
        OTPSession.objects.update(channel_cooldowns={})
        with pytest.raises(VerificationError) as info:
            services.resend_code(first.session.pk, first.token, "email")
        assert info.value.reason is Failure.RATE_LIMITED
        assert self.kodmobi.calls["send"] == 0

    def test_a_resend_takes_kodmobis_expiry_and_the_language(self) -> None:
        from django.utils import translation

        from django_kodmobi.client import KodMobiClient

        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            flow = start_login(PHONE, channel="sms")
            assert flow.session.expires_at == timezone.now() + timedelta(seconds=180)
            clock.shift(100)
            # kod.mobi cuts the session short (its clock, its rules): follow it.
            upstream = self.kodmobi.project._sessions[flow.session.kodmobi_session_id]
            upstream.expires_at -= 30
            with (
                translation.override("ru"),
                mock.patch.object(
                    KodMobiClient,
                    "send_code",
                    autospec=True,
                    side_effect=KodMobiClient.send_code,
                ) as send,
            ):
                services.resend_code(flow.session.pk, flow.token, "whatsapp")
            row = OTPSession.objects.get(pk=flow.session.pk)
        assert row.expires_at == flow.session.expires_at - timedelta(seconds=30)
        assert send.call_args.kwargs["language"] == "ru"


@override_settings(KODMOBI=kodmobi(RESEND_COOLDOWN=45))
class CooldownTests(GuessTestCase):
    """What a reply from kod.mobi does to each channel's wait."""

    def channel(self, kind: str, timeout: int) -> SessionChannel:
        return SessionChannel(name=kind, type=kind, is_active=True, timeout=timeout)

    @time_machine.travel("2026-11-28 10:00Z", tick=False)
    def test_kodmobis_timeouts_and_the_local_floor(self) -> None:
        now = time.time()
        session = OTPSession(channel_cooldowns={"email": now + 500, "sms": now + 20})
        reply: tuple[SessionChannel, ...] = (
            self.channel("telegram", 1),  # a wait of one second is a wait
            self.channel("whatsapp", 0),  # no wait named: what we knew stays
            self.channel("sms", 0),
        )
        assert services.start.cooldowns(session, reply, "whatsapp") == {
            "email": now + 500,
            "sms": now + 20,
            "telegram": now + 1,
            "whatsapp": now + 45,  # sent just now: at least RESEND_COOLDOWN
        }
        # The channel sent on takes kod.mobi's own wait when it names one.
        reply = (self.channel("telegram", 90), self.channel("sms", 30))
        assert services.start.cooldowns(session, reply, "sms") == {
            "email": now + 500,
            "sms": now + 30,
            "telegram": now + 90,
        }
        # Not in the reply at all: the floor.
        assert services.start.cooldowns(OTPSession(), (), "sms") == {"sms": now + 45}

    def test_the_first_send_of_a_quiet_start_is_recorded_with_its_channel(
        self,
    ) -> None:
        from django_kodmobi.models import EventKind, OTPEvent

        flow = start_login(PHONE, send=False)
        services.resend_code(flow.session.pk, flow.token, "whatsapp")
        event = OTPEvent.objects.get(session=flow.session, kind=EventKind.SENT)
        assert (event.channel, event.detail) == ("whatsapp", "")
        assert OTPSession.objects.get(pk=flow.session.pk).resends == 0
