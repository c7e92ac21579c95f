"""Each state change of a flow, at the model layer.

Every change is one conditional UPDATE (``OTPSessionQuerySet``): it moves
the flow it is given and no other, only from the states it may leave, stamps
``updated_at``, and says whether it moved the flow. The services and the
race tests rely on each of these; here each is broken down on its own, with
a second flow beside it that must stay as it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.db import DatabaseError
from django.test import TestCase, TransactionTestCase

from django_kodmobi import clock
from django_kodmobi.conf import settings
from django_kodmobi.models import (
    LIVE_STATUSES,
    OPEN_STATUSES,
    EventKind,
    KodSession,
    OTPSession,
    OTPSessionQuerySet,
    Status,
)
from django_kodmobi.services import start_login
from django_kodmobi.testing import KodMobiTestMixin

NOW, LATER = "2026-11-28 10:00Z", "2026-11-28 10:00:30Z"

flows = OTPSession.objects
PHONES = itertools.count(1_000_000)


def set_values(session: OTPSession, **values: Any) -> None:
    flows.filter(pk=session.pk).update(**values)
    for name, value in values.items():
        setattr(session, name, value)


class TransitionTests(KodMobiTestMixin, TestCase):
    def two_flows(self) -> tuple[OTPSession, OTPSession]:
        """Two new flows on two new kod.mobi sessions, each with its code sent."""
        first, second = (start_login(f"+7999{next(PHONES)}").session for _ in "12")
        return first, second

    def assert_change(
        self,
        change: Callable[[OTPSession], object],
        leaves: Iterable[Status],
        reaches: Status,
        *,
        sets_the_instance: bool = True,
    ) -> None:
        """From each state: ``change`` moves the flow to ``reaches`` exactly
        when the flow is in one of ``leaves``, and leaves the other alone."""
        leaves = tuple(leaves)
        for status in Status:
            with self.subTest(status=status), time_machine.travel(NOW, tick=False):
                flow, bystander = self.two_flows()
                set_values(flow, status=status)
                set_values(bystander, status=leaves[0])
                with time_machine.travel(LATER, tick=False):
                    moved = bool(change(flow))
                    later = clock.now()
                row = flows.get(pk=flow.pk)
                assert moved == (status in leaves)
                assert row.status == (reaches if moved else status)
                if sets_the_instance:
                    assert flow.status == row.status
                assert (row.updated_at == later) == moved
                assert flows.get(pk=bystander.pk).status == leaves[0]

    def test_verified_only_from_open(self) -> None:
        self.assert_change(flows.mark_verified, OPEN_STATUSES, Status.VERIFIED)

    def test_a_verified_flow_forgets_its_last_error(self) -> None:
        flow, _ = self.two_flows()
        set_values(flow, last_error="kodmobi_unavailable")
        assert flows.mark_verified(flow)
        assert flow.last_error == flows.get(pk=flow.pk).last_error == ""

    def test_consumed_only_from_verified(self) -> None:
        self.assert_change(flows.consume, [Status.VERIFIED], Status.CONSUMED)

    def test_a_flow_that_was_consumed_once_is_never_consumed_again(self) -> None:
        """Belt and braces: a row with a consumption time is spent, whatever
        its status says (an admin's edit, a restore from backup)."""
        flow, _ = self.two_flows()
        set_values(flow, status=Status.VERIFIED, consumed_at=clock.now())
        assert not flows.consume(flow)
        assert not flows.consume(flow, verifying=True)

    def test_no_flow_is_consumed_past_its_expiry(self) -> None:
        with time_machine.travel(NOW, tick=False) as traveller:
            flow, _ = self.two_flows()
            set_values(flow, status=Status.VERIFIED)
            traveller.move_to(flow.expires_at)
            assert not flows.consume(flow)
        assert flows.get(pk=flow.pk).status == Status.VERIFIED

    def test_a_check_is_counted_on_an_open_unexpired_flow_and_its_code(self) -> None:
        def attempts(flow: OTPSession) -> tuple[int, int]:
            kod_session = KodSession.objects.get(pk=flow.kodmobi_session_id)
            return flows.get(pk=flow.pk).attempts, kod_session.attempts

        for status in Status:
            with self.subTest(status=status), time_machine.travel(NOW, tick=False):
                flow, bystander = self.two_flows()
                set_values(flow, status=status)
                with time_machine.travel(LATER, tick=False):
                    reserved = flows.reserve_attempt(flow)
                    later = clock.now()
                assert reserved == (status in OPEN_STATUSES)
                assert attempts(flow) == ((1, 1) if reserved else (0, 0))
                assert flow.attempts == attempts(flow)[0]  # the instance follows
                assert (flows.get(pk=flow.pk).updated_at == later) == reserved
                assert attempts(bystander) == (0, 0)
        with time_machine.travel(NOW, tick=False) as traveller:
            flow, _ = self.two_flows()
            traveller.move_to(flow.expires_at)
            assert not flows.reserve_attempt(flow)
            assert attempts(flow) == (0, 0)

    def test_a_code_whose_checks_are_spent_takes_no_more(self) -> None:
        flow, bystander = self.two_flows()
        spent = settings.MAX_ATTEMPTS
        KodSession.objects.filter(pk=flow.kodmobi_session_id).update(attempts=spent)
        assert not flows.reserve_attempt(flow)
        # The flow's own count was given back; no other flow's was touched.
        assert [flows.get(pk=f.pk).attempts for f in (flow, bystander)] == [0, 0]
        assert flow.attempts == 0

    def test_expired_only_from_live(self) -> None:
        self.assert_change(flows.expire, LIVE_STATUSES, Status.EXPIRED)

    def test_locked_only_from_open(self) -> None:
        # It returns the ids it locked; the caller sets its instance.
        def lock(flow: OTPSession) -> bool:
            locked = flows.lock(flow)
            assert locked in ([], [flow.pk])
            return bool(locked)

        self.assert_change(lock, OPEN_STATUSES, Status.LOCKED, sets_the_instance=False)

    def test_a_flow_another_caller_locked_first_is_not_locked_again(self) -> None:
        flow, _ = self.two_flows()
        read_flows = OTPSessionQuerySet.values_list
        other_caller: list[list[str]] = []
        raced = False

        def read_then_lose_the_race(
            queryset: OTPSessionQuerySet, *fields: str, **options: Any
        ) -> Any:
            nonlocal raced
            ids = list(read_flows(queryset, *fields, **options))
            if not raced:  # the other caller, between this read and this UPDATE
                raced = True
                other_caller.append(flows.lock(flow))
            return ids

        with mock.patch.object(
            OTPSessionQuerySet, "values_list", read_then_lose_the_race
        ):
            locked = flows.lock(flow)
        assert (other_caller, locked) == ([[flow.pk]], [])

    def test_a_flow_kod_mobi_never_answered_is_locked_alone(self) -> None:
        flow, bystander = self.two_flows()
        set_values(flow, kodmobi_session_id="")
        set_values(bystander, kodmobi_session_id="")
        assert flows.lock(flow) == [flow.pk]
        assert flows.get(pk=bystander.pk).status == Status.SENT

    def test_resends_of_open_flows_only_up_to_the_cap(self) -> None:
        for status in Status:
            with self.subTest(status=status), time_machine.travel(NOW, tick=False):
                flow, bystander = self.two_flows()
                set_values(flow, status=status)
                with time_machine.travel(LATER, tick=False):
                    reserved = [flows.reserve_resend(flow) for _ in range(5)]
                    later = clock.now()
                allowed = settings.MAX_RESENDS if status in OPEN_STATUSES else 0
                assert reserved == [True] * allowed + [False] * (5 - allowed)
                row = flows.get(pk=flow.pk)
                assert (row.resends, row.updated_at == later) == (allowed, allowed > 0)
                assert flows.get(pk=bystander.pk).resends == 0

    def test_a_resend_given_back_is_the_flows_own_and_never_below_zero(self) -> None:
        flow, bystander = self.two_flows()
        set_values(flow, resends=1)
        set_values(bystander, resends=1)
        for _ in range(2):
            flows.give_back_resend(flow)
        assert flows.get(pk=flow.pk).resends == 0
        assert flows.get(pk=bystander.pk).resends == 1


class AtomicRecordTests(KodMobiTestMixin, TransactionTestCase):
    """A status and its audit event are one commit: when the event cannot
    be written, the status does not change either."""

    def test_a_failed_call_and_its_event(self) -> None:
        from django_kodmobi.client import KodMobiServerError
        from django_kodmobi.services import recording

        flow = start_login("+79991234567")
        with (
            mock.patch.object(recording, "record_event", side_effect=DatabaseError),
            pytest.raises(DatabaseError),
        ):
            recording.fail(
                flow.session, KodMobiServerError("down", status=502), EventKind.FAILED
            )
        assert flows.get(pk=flow.session.pk).status == Status.SENT

    def test_a_verification_and_its_event(self) -> None:
        from django_kodmobi.models import OTPEvent
        from django_kodmobi.services import recording

        flow = start_login("+79991234567")
        with (
            mock.patch.object(
                OTPEvent.objects, "bulk_create", side_effect=DatabaseError
            ),
            pytest.raises(DatabaseError),
        ):
            recording.mark_verified(flow.session)
        assert flows.get(pk=flow.session.pk).status == Status.SENT
