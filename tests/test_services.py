"""The login core, end to end against the in-process sandbox."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings
from django.utils import timezone, translation

from django_kodmobi import signals
from django_kodmobi.client import KodMobiClient, SessionChannel
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import (
    Contact,
    EventKind,
    KodSession,
    OTPEvent,
    OTPSession,
    Status,
)
from django_kodmobi.sandbox import Fault, FaultKind
from django_kodmobi.sandbox.project import Refusal
from django_kodmobi.services import (
    ClientInfo,
    Flow,
    channel_cards,
    channels,
    complete_with_token,
    get_channels,
    get_flow_session,
    log_in,
    redeem_for_login,
    resend_code,
    start_login,
    verify_and_log_in,
    verify_code,
)
from django_kodmobi.services.channels import remember_session_channels
from django_kodmobi.services.flows import new_event, record_event
from django_kodmobi.services.verify import redeem_code
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import database_work, other_code, session_request

User = get_user_model()
PHONE = "+79991234567"
POSTGRESQL = connection.vendor == "postgresql"
#: Statements of the writes ``django_kodmobi.statements`` joins into one on
#: PostgreSQL: a code check's reservation (the code's budget and the
#: flow's count), kod.mobi's answer to a start (the budget, the flow and
#: its events)...
RESERVATION = 1 if POSTGRESQL else 2
REPLY_WRITE = 1 if POSTGRESQL else 3
#: ...and a login's consume with its events.
CONSUME_WRITE = 1 if POSTGRESQL else 2
EMAIL = "anna@example.com"


def kodmobi_settings(**extra: Any) -> dict[str, Any]:
    from django.conf import settings

    return {**settings.KODMOBI, **extra}


RESOLVED: list[object] = []


def remember_identifier(identifier: object) -> None:
    """A USER_RESOLVER that finds nobody and remembers what it was given."""
    RESOLVED.append(identifier)


class Recorder:
    """Collects the calls a signal receives."""

    def __init__(self, signal: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        signal.connect(self, weak=False)
        self.signal = signal

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)

    def close(self) -> None:
        self.signal.disconnect(self)


class FlowMixin(KodMobiTestMixin):
    """A fresh sandbox and Anna, who has an account."""

    def setUp(self) -> None:
        super().setUp()
        self.user = User.objects.create_user("anna", EMAIL)

    def events(self, flow: Flow) -> list[str]:
        return list(
            OTPEvent.objects.filter(session=flow.session).values_list("kind", flat=True)
        )

    def verify(self, flow: Flow, code: str | None = None) -> OTPSession:
        code = code or self.kodmobi_code(flow.session.identifier)
        return verify_code(flow.session.pk, flow.token, code)


class FlowTestCase(FlowMixin, TestCase):
    pass


class TestSendingFirst(FlowTestCase):
    def test_a_blank_channel_is_no_choice(self) -> None:
        # A form's empty select, or a client sending "channel": "".
        flow = start_login(PHONE, channel="")
        assert (flow.session.status, flow.session.channel) == (Status.SENT, "telegram")

    def test_code_goes_to_the_best_channel_then_logs_in(self) -> None:
        flow = start_login(EMAIL.upper(), client=ClientInfo("203.0.113.9", "Firefox"))
        session = flow.session
        assert session.identifier == EMAIL
        assert (session.status, session.channel) == (Status.SENT, "email")
        assert session.kodmobi_session_id
        assert (session.client_ip, session.user_agent) == ("203.0.113.9", "Firefox")
        assert [c["type"] for c in session.channels_offered] == [
            "telegram",
            "whatsapp",
            "sms",
            "email",
        ]
        # The row keeps what kod.mobi offered, as it said it, for the audit;
        # the flow's reply names the channels in this app's words.
        session.refresh_from_db()
        assert session.channels_offered == [
            {
                "type": c.type,
                "name": self.kodmobi.config.channel_name(c.type),
                "is_active": c.is_active,
            }
            for c in flow.channels
        ]
        assert len(flow.token) >= 43

        verified = self.verify(flow)
        assert verified.status == Status.VERIFIED

        request = session_request()
        key_before = request.session.session_key
        user = log_in(request, session.pk, flow.token)
        assert user == self.user
        assert request.session.session_key != key_before
        assert request.user == self.user
        session.refresh_from_db()
        assert (session.status, session.user) == (Status.CONSUMED, self.user)
        assert self.events(flow) == ["created", "sent", "verified", "logged_in"]

    def test_phone_typed_loosely_is_normalised(self) -> None:
        with override_settings(KODMOBI=kodmobi_settings(DEFAULT_REGION="RU")):
            flow = start_login("8 (999) 123-45-67")
        assert flow.session.identifier == PHONE
        assert flow.session.channel == "telegram"


class TestChannelFirst(FlowTestCase):
    def test_chosen_channel_and_resend_on_another(self) -> None:
        sent = Recorder(signals.code_sent)
        self.addCleanup(sent.close)
        flow = start_login(PHONE, channel="whatsapp")
        assert flow.session.channel == "whatsapp"
        # kod.mobi shows the channel it just used inactive while it counts
        # down; to a person it is reachable, only waiting.
        assert {c.type for c in flow.channels if c.is_active} == {"telegram", "sms"}
        cards = {
            card.channel.type: card
            for card in channel_cards(flow.session, flow.channels)
        }
        assert (cards["whatsapp"].usable, cards["whatsapp"].wait) == (True, 60)
        assert {t for t, card in cards.items() if card.usable} == {
            "telegram",
            "whatsapp",
            "sms",
        }

        session = resend_code(flow.session.pk, flow.token, "sms")
        assert (session.channel, session.resends, session.status) == (
            "sms",
            1,
            Status.SENT,
        )
        codes = [m.code for m in self.kodmobi.inbox.messages(PHONE)]
        assert [m.channel for m in self.kodmobi.inbox.messages(PHONE)] == [
            "whatsapp",
            "sms",
        ]
        assert codes[0] == codes[1]
        assert [(c["channel"], c["resend"]) for c in sent.calls] == [
            ("whatsapp", False),
            ("sms", True),
        ]
        assert self.verify(flow).status == Status.VERIFIED
        assert self.events(flow) == ["created", "sent", "resent", "verified"]

    def test_same_channel_waits_for_the_cooldown(self) -> None:
        flow = start_login(PHONE, channel="sms")
        with pytest.raises(VerificationError) as info:
            resend_code(flow.session.pk, flow.token, "sms")
        assert info.value.reason is Failure.RESEND_TOO_SOON
        assert 55 <= (info.value.retry_after or 0) <= 61
        # Refused locally: kod.mobi was not asked.
        assert len(self.kodmobi.inbox.messages(PHONE)) == 1

    def test_kodmobi_cooldown_refusal_gives_the_resend_back(self) -> None:
        flow = start_login(PHONE, channel="sms")
        OTPSession.objects.filter(pk=flow.session.pk).update(channel_cooldowns={})
        with pytest.raises(VerificationError) as info:
            resend_code(flow.session.pk, flow.token, "sms")
        assert info.value.reason is Failure.RESEND_TOO_SOON
        assert info.value.retry_after == 60
        flow.session.refresh_from_db()
        assert (flow.session.resends, flow.session.status) == (0, Status.SENT)
        assert flow.session.last_error == "ERROR_MESSAGE_ATTEMPT"
        assert self.events(flow)[-1] == EventKind.SEND_FAILED

    def test_resends_are_capped(self) -> None:
        flow = start_login(PHONE, channel="telegram")
        for channel in ("whatsapp", "sms"):
            resend_code(flow.session.pk, flow.token, channel)
        self.kodmobi.advance(61)
        OTPSession.objects.filter(pk=flow.session.pk).update(channel_cooldowns={})
        resend_code(flow.session.pk, flow.token, "telegram")
        with pytest.raises(VerificationError) as info:
            resend_code(flow.session.pk, flow.token, "whatsapp")
        assert info.value.reason is Failure.TOO_MANY_RESENDS

    def test_inactive_channel(self) -> None:
        flow = start_login(PHONE)
        with pytest.raises(VerificationError) as info:
            resend_code(flow.session.pk, flow.token, "email")
        assert info.value.reason is Failure.CHANNEL_UNAVAILABLE
        flow.session.refresh_from_db()
        assert flow.session.status == Status.SENT

    def test_a_channel_that_cannot_reach_the_identifier(self) -> None:
        for identifier, channel in [(PHONE, "email"), (EMAIL, "sms")]:
            with pytest.raises(VerificationError) as info:
                start_login(identifier, channel=channel)
            assert info.value.reason is Failure.CHANNEL_UNAVAILABLE
        assert self.kodmobi.calls["create"] == 0 and not OTPSession.objects.exists()
        flow = start_login(PHONE, channel="sms")
        with pytest.raises(VerificationError) as info:
            resend_code(flow.session.pk, flow.token, "email")
        assert self.kodmobi.calls["send"] == 0

    def test_start_on_an_inactive_channel_fails_the_row(self) -> None:
        self.kodmobi.project.set_reachable(PHONE, ["sms"])
        with pytest.raises(VerificationError) as info:
            start_login(PHONE, channel="telegram")
        assert info.value.reason is Failure.CHANNEL_UNAVAILABLE
        session = OTPSession.objects.get()
        assert (session.status, session.last_error) == (
            Status.FAILED,
            "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL",
        )

    def test_channels_for_a_session_and_the_project(self) -> None:
        flow = start_login(EMAIL)
        channels = get_channels(flow.session)
        assert {c.type for c in channels if c.timeout} == {"email"}
        usable = {
            c.channel.type for c in channel_cards(flow.session, channels) if c.usable
        }
        assert usable == {"email"}
        assert len(get_channels()) == 4

    def test_send_false_then_send(self) -> None:
        flow = start_login(PHONE, send=False)
        assert (flow.session.status, flow.session.channel) == (Status.CREATED, "")
        assert self.kodmobi.inbox.messages() == []
        session = resend_code(flow.session.pk, flow.token, "telegram")
        # The first send of a send=False flow is not a resend.
        assert (session.status, session.channel, session.resends) == (
            Status.SENT,
            "telegram",
            0,
        )
        assert self.events(flow) == ["created", "sent"]
        assert self.verify(flow).status == Status.VERIFIED

    def test_starting_again_shares_the_attempt_budget(self) -> None:
        first = start_login(PHONE)
        wrong = other_code(self.kodmobi_code(PHONE))
        with pytest.raises(VerificationError):
            self.verify(first, wrong)
        second = start_login(PHONE)
        assert second.session.kodmobi_session_id == first.session.kodmobi_session_id
        # The new flow shows nothing of the first one's attempts...
        assert (second.session.attempts, second.session.failed_attempts) == (0, 0)
        assert second.session.attempts_left == 5
        assert second.session.status == Status.SENT
        assert second.session.channel == first.session.channel
        assert len(self.kodmobi.inbox.messages(PHONE)) == 1
        assert list(
            OTPEvent.objects.filter(session=second.session)
            .order_by("id")
            .values_list("kind", "channel", "detail")
        ) == [
            (EventKind.CREATED, "", ""),
            (EventKind.SENT, first.session.channel, "joined a live code"),
        ]
        # ...but one code gets five checks in all, whichever flow makes them,
        # and a flow that joined it gets at most three: the last ones stay
        # with the flow that sent it.
        for _ in range(3):
            with pytest.raises(VerificationError) as info:
                self.verify(second, wrong)
            assert info.value.reason is Failure.INVALID_CODE
        with pytest.raises(VerificationError) as info:
            self.verify(second, wrong)
        assert info.value.reason is Failure.LOCKED
        first.session.refresh_from_db()
        assert first.session.status == Status.SENT, "only the joined flow locked"
        with pytest.raises(VerificationError) as info:
            self.verify(first, wrong)
        assert info.value.reason is Failure.LOCKED, "the code's fifth check"
        assert KodSession.objects.get(pk=first.session.kodmobi_session_id).attempts == 5


class TestChannelLists(FlowTestCase):
    """kod.mobi's channel lists: asked for in the page's language, kept as
    long as the settings say, in this app's words."""

    def test_asked_in_the_pages_language_then_kept_for_the_next_page(self) -> None:
        flow = start_login(PHONE)
        ask = KodMobiClient.get_channels
        with (
            mock.patch.object(
                KodMobiClient, "get_channels", autospec=True, side_effect=ask
            ) as asked,
            translation.override("ru"),
        ):
            get_channels(flow.session)
            get_channels(flow.session, recent=True)  # the page that follows
        assert [call.kwargs["language"] for call in asked.call_args_list] == ["ru"]

    def test_a_channel_counting_down_is_kept_usable(self) -> None:
        counting = SessionChannel(name="SMS", type="sms", is_active=False, timeout=1)
        remember_session_channels("01J00000000000000000000000", (counting,), "en")
        kept = channels._recent_session_channels("01J00000000000000000000000", "en")
        assert kept == [{"is_active": True, "timeout": 0}]

    def test_a_channel_kodmobi_adds_later_keeps_its_own_words(self) -> None:
        viber = SessionChannel(name="Viber", type="viber", is_active=True, timeout=0)
        assert channels.in_our_words([viber]) == (viber,)

    @override_settings(KODMOBI=kodmobi_settings(CHANNELS_CACHE_SECONDS=3600))
    def test_the_projects_list_is_kept_as_long_as_the_setting_says(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            get_channels()
            clock.shift(3599)
            get_channels()
        assert self.kodmobi.calls["channels"] == 1


class TestVerifyFailures(FlowTestCase):
    def wrong(self, flow: Flow) -> str:
        return (
            "000000"
            if self.kodmobi_code(flow.session.identifier) != "000000"
            else "111111"
        )

    def test_wrong_code(self) -> None:
        rejected = Recorder(signals.code_rejected)
        failed = Recorder(user_login_failed)
        self.addCleanup(rejected.close)
        self.addCleanup(failed.close)
        flow = start_login(PHONE)
        with pytest.raises(VerificationError) as info:
            self.verify(flow, self.wrong(flow))
        assert (info.value.reason, info.value.attempts_left) == (
            Failure.INVALID_CODE,
            4,
        )
        flow.session.refresh_from_db()
        assert (flow.session.attempts, flow.session.failed_attempts) == (1, 1)
        assert flow.session.status == Status.SENT
        assert (
            rejected.calls[0]["attempts_left"] == 4
            and not rejected.calls[0]["last_attempt"]
        )
        assert failed.calls[0]["credentials"] == {
            "kodmobi_identifier": "+7******4567",
            "kodmobi_session_id": flow.session.pk,
        }
        # The right code still works.
        assert self.verify(flow).status == Status.VERIFIED

    def test_five_wrong_codes_lock_the_session(self) -> None:
        locked = Recorder(signals.session_locked)
        rejected = Recorder(signals.code_rejected)
        self.addCleanup(locked.close)
        self.addCleanup(rejected.close)
        flow = start_login(PHONE)
        for _ in range(4):
            with pytest.raises(VerificationError):
                self.verify(flow, self.wrong(flow))
        with pytest.raises(VerificationError) as info:
            self.verify(flow, self.wrong(flow))
        assert info.value.reason is Failure.LOCKED
        assert rejected.calls[-1]["last_attempt"] is True
        assert len(locked.calls) == 1
        with pytest.raises(VerificationError) as again:
            self.verify(flow)
        assert again.value.reason is Failure.LOCKED
        flow.session.refresh_from_db()
        assert (flow.session.status, flow.session.failed_attempts) == (Status.LOCKED, 5)
        with pytest.raises(VerificationError) as resend:
            resend_code(flow.session.pk, flow.token, "sms")
        assert resend.value.reason is Failure.LOCKED

    def test_a_resend_kodmobi_refuses_as_blocked_locks_the_flow(self) -> None:
        flow = start_login(PHONE, channel="telegram")
        # kod.mobi blocked the code on checks it saw elsewhere (the browser SDK's).
        blocked = Refusal("ERROR_BLOCKED", 429, count=5)
        with (
            mock.patch.object(self.kodmobi.project, "send", side_effect=blocked),
            pytest.raises(VerificationError) as info,
        ):
            resend_code(flow.session.pk, flow.token, "sms")
        assert info.value.reason is Failure.LOCKED
        flow.session.refresh_from_db()
        assert (flow.session.status, flow.session.last_error) == (
            Status.LOCKED,
            "ERROR_BLOCKED",
        )

    def test_resend_does_not_reset_the_attempts(self) -> None:
        flow = start_login(PHONE, channel="telegram")
        for _ in range(3):
            with pytest.raises(VerificationError):
                self.verify(flow, self.wrong(flow))
        resend_code(flow.session.pk, flow.token, "sms")
        with pytest.raises(VerificationError) as info:
            self.verify(flow, self.wrong(flow))
        assert info.value.attempts_left == 1

    @override_settings(KODMOBI=kodmobi_settings(DEADLINE=0.2))
    def test_attempts_are_reserved_before_kodmobi_is_called(self) -> None:
        flow = start_login(PHONE)
        KodSession.objects.filter(pk=flow.session.kodmobi_session_id).update(attempts=5)
        with (
            mock.patch.object(self.kodmobi.project, "check") as check,
            pytest.raises(VerificationError) as info,
        ):
            self.verify(flow)
        assert info.value.reason is Failure.LOCKED
        check.assert_not_called()
        # Nothing was in flight: after waiting for it, the flow is locked.
        flow.session.refresh_from_db()
        assert flow.session.status == Status.LOCKED

    @override_settings(KODMOBI=kodmobi_settings(DEADLINE=1))
    def test_a_spent_budget_with_a_check_in_flight_answers_at_once(self) -> None:
        flow = start_login(PHONE)
        # The code's last check is in flight, at kod.mobi, for another caller.
        KodSession.objects.filter(pk=flow.session.kodmobi_session_id).update(
            attempts=5, checked_at=timezone.now()
        )
        with pytest.raises(VerificationError) as info:
            self.verify(flow)
        # Not locked: locking under the check in flight would fail it too.
        assert (info.value.reason, info.value.retry_after) == (Failure.RATE_LIMITED, 1)
        flow.session.refresh_from_db()
        assert flow.session.status == Status.SENT
        # Once it ended (here: as the right code), the answer is its outcome.
        OTPSession.objects.filter(pk=flow.session.pk).update(status=Status.CONSUMED)
        with pytest.raises(VerificationError) as info:
            self.verify(flow)
        assert info.value.reason is Failure.ALREADY_USED

    def test_a_spent_budget_with_no_check_in_flight_locks_at_once(self) -> None:
        flow = start_login(PHONE)
        KodSession.objects.filter(pk=flow.session.kodmobi_session_id).update(
            attempts=5, failures=5, checked_at=timezone.now()
        )
        with pytest.raises(VerificationError) as info:
            self.verify(flow)
        assert info.value.reason is Failure.LOCKED
        flow.session.refresh_from_db()
        assert flow.session.status == Status.LOCKED

    def test_a_check_in_flight_past_the_deadline_died_with_its_worker(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            flow = start_login(PHONE)
            KodSession.objects.filter(pk=flow.session.kodmobi_session_id).update(
                attempts=5, failures=4, checked_at=timezone.now()
            )
            clock.shift(10 + 1 - 0.001)  # within DEADLINE + 1: still in flight
            with pytest.raises(VerificationError) as info:
                self.verify(flow)
            assert info.value.reason is Failure.RATE_LIMITED
            clock.shift(0.001)
            with pytest.raises(VerificationError) as info:
                self.verify(flow)
            assert info.value.reason is Failure.LOCKED

    def test_the_flow_token_is_compared_in_constant_time(self) -> None:
        from django_kodmobi.services import flows as flows_module

        flow = start_login(PHONE)
        from django.utils.crypto import constant_time_compare

        with mock.patch.object(
            flows_module, "constant_time_compare", wraps=constant_time_compare
        ) as compare:
            get_flow_session(flow.session.pk, flow.token)
            with pytest.raises(VerificationError):
                get_flow_session(flow.session.pk, "wrong")
        hashed = flows_module.hash_token(flow.token)
        assert compare.call_args_list[0].args == (hashed, hashed)
        assert compare.call_count == 2

    def test_malformed_code_spends_nothing(self) -> None:
        flow = start_login(PHONE)
        for code in [
            "12345",
            "1234567",
            "12 34 5!",
            "x" * 161,
            "١٢٣٤٥٦",
            "codes 123456 and 654321",  # two codes in one line: which?
            "Your code is on its way",  # no code at all
        ]:
            with pytest.raises(VerificationError) as info:
                verify_code(flow.session.pk, flow.token, code)
            assert info.value.reason is Failure.INVALID_CODE
        flow.session.refresh_from_db()
        assert flow.session.attempts == 0

    def test_codes_as_people_type_and_paste_them(self) -> None:
        from django_kodmobi.services import normalize_code

        for typed in [
            "123456",
            "123 456",
            "123-456",
            "123.456",
            "123_456",
            " 12 34 56 ",
            "Your kod.mobi code: 123456. Do not share it.",
            "123456 is your code",
        ]:
            assert normalize_code(typed) == "123456", typed
        assert normalize_code("ab-12cd") == "ab12cd", "the case is kept"

    def test_code_with_spaces_and_dashes(self) -> None:
        flow = start_login(PHONE)
        code = self.kodmobi_code(PHONE)
        assert (
            verify_code(flow.session.pk, flow.token, f"{code[:3]} - {code[3:]}").status
            == Status.VERIFIED
        )

    def test_expired_locally(self) -> None:
        flow = start_login(PHONE)
        OTPSession.objects.filter(pk=flow.session.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        with pytest.raises(VerificationError) as info:
            self.verify(flow)
        assert info.value.reason is Failure.EXPIRED
        flow.session.refresh_from_db()
        assert flow.session.status == Status.EXPIRED
        assert self.events(flow)[-1] == EventKind.EXPIRED
        with pytest.raises(VerificationError) as again:
            self.verify(flow)
        assert again.value.reason is Failure.EXPIRED

    def test_expired_at_kodmobi(self) -> None:
        flow = start_login(PHONE)
        code = self.kodmobi_code(PHONE)
        self.kodmobi.advance(181)
        with pytest.raises(VerificationError) as info:
            verify_code(flow.session.pk, flow.token, code)
        assert info.value.reason is Failure.EXPIRED
        flow.session.refresh_from_db()
        assert (flow.session.status, flow.session.last_error) == (
            Status.EXPIRED,
            "ERROR_SESSION_EXPIRED",
        )

    def test_expired_here_too_when_kodmobi_says_expired(self) -> None:
        flow = start_login(PHONE)
        code = self.kodmobi_code(PHONE)
        check = self.kodmobi.project.check
        with time_machine.travel(timezone.now(), tick=False) as traveller:

            def checked_after_the_expiry(*args: Any, **kwargs: Any) -> Any:
                traveller.shift(timedelta(seconds=181))
                self.kodmobi.advance(181)
                return check(*args, **kwargs)

            with (
                mock.patch.object(
                    self.kodmobi.project, "check", side_effect=checked_after_the_expiry
                ),
                pytest.raises(VerificationError) as info,
            ):
                verify_code(flow.session.pk, flow.token, code)
        assert info.value.reason is Failure.EXPIRED
        flow.session.refresh_from_db()
        # Expired by our own clock: no error of kod.mobi's to keep.
        assert (flow.session.status, flow.session.last_error) == (Status.EXPIRED, "")
        assert self.events(flow)[-1] == EventKind.EXPIRED

    def test_kodmobi_ending_a_shared_code_early_is_not_already_used(self) -> None:
        first = start_login(PHONE)
        second = start_login(PHONE)
        assert second.session.kodmobi_session_id == first.session.kodmobi_session_id
        code = self.kodmobi_code(PHONE)
        self.kodmobi.advance(181)  # kod.mobi's clock ahead of ours
        # The other flow on the code took nothing: this is an expiry.
        with pytest.raises(VerificationError) as info:
            verify_code(first.session.pk, first.token, code)
        assert info.value.reason is Failure.EXPIRED
        first.session.refresh_from_db()
        assert first.session.status == Status.EXPIRED

    def test_reused(self) -> None:
        flow = start_login(PHONE)
        code = self.kodmobi_code(PHONE)
        verify_code(flow.session.pk, flow.token, code)
        with pytest.raises(VerificationError) as info:
            verify_code(flow.session.pk, flow.token, code)
        assert info.value.reason is Failure.ALREADY_USED

    def test_destination_mismatch(self) -> None:
        flow = start_login(PHONE)
        with (
            mock.patch.object(
                self.kodmobi.project,
                "verify",
                return_value={"to": "+79990000000", "session_id": "x"},
            ),
            pytest.raises(VerificationError) as info,
        ):
            self.verify(flow)
        assert info.value.reason is Failure.DESTINATION_MISMATCH
        flow.session.refresh_from_db()
        assert (flow.session.status, flow.session.last_error) == (
            Status.FAILED,
            "destination_mismatch",
        )
        request = session_request()
        with pytest.raises(VerificationError):
            log_in(request, flow.session.pk, flow.token)

    def test_unparseable_destination_is_a_mismatch(self) -> None:
        flow = start_login(PHONE)
        with (
            mock.patch.object(
                self.kodmobi.project, "verify", return_value={"to": "somebody"}
            ),
            pytest.raises(VerificationError) as info,
        ):
            self.verify(flow)
        assert info.value.reason is Failure.DESTINATION_MISMATCH

    def test_unknown_session_and_wrong_token_look_the_same(self) -> None:
        flow = start_login(PHONE)
        code = self.kodmobi_code(PHONE)
        for session_id, token in [
            ("01J00000000000000000000000", flow.token),
            (flow.session.pk, "not-the-token"),
            (flow.session.pk, ""),
            (None, None),
        ]:
            with pytest.raises(VerificationError) as info:
                verify_code(session_id, token, code)  # type: ignore[arg-type]
            assert info.value.reason is Failure.NOT_FOUND
        assert get_flow_session(flow.session.pk, flow.token) == flow.session

    def test_an_id_that_is_no_ulid_never_reaches_the_database(self) -> None:
        flow = start_login(PHONE)
        for session_id in ["", flow.session.pk[:-1], flow.session.pk + "0", "x" * 4096]:
            with self.assertNumQueries(0), pytest.raises(VerificationError) as info:
                get_flow_session(session_id, flow.token)
            assert info.value.reason is Failure.NOT_FOUND

    def test_kodmobi_down_during_check_keeps_the_session(self) -> None:
        flow = start_login(PHONE)
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, frozenset({"check"}), times=1))
        with pytest.raises(VerificationError) as info:
            self.verify(flow)
        assert info.value.reason is Failure.UNAVAILABLE
        flow.session.refresh_from_db()
        assert (flow.session.status, flow.session.last_error) == (
            Status.SENT,
            "KodMobiServerError",
        )
        # The attempt was spent (kod.mobi may have counted it); the next works.
        assert self.verify(flow).status == Status.VERIFIED

    def test_kodmobi_down_during_verify_fails_closed(self) -> None:
        flow = start_login(PHONE)
        self.kodmobi.faults.add(Fault(FaultKind.MALFORMED, frozenset({"verify"})))
        with pytest.raises(VerificationError) as info:
            self.verify(flow)
        assert info.value.reason is Failure.UNAVAILABLE
        flow.session.refresh_from_db()
        assert flow.session.status == Status.FAILED
        with pytest.raises(VerificationError):
            log_in(session_request(), flow.session.pk, flow.token)

    def test_kodmobi_down_at_start_leaves_a_failed_row(self) -> None:
        self.kodmobi.faults.add(Fault(FaultKind.DROP, frozenset({"create"})))
        with pytest.raises(VerificationError) as info:
            start_login(PHONE)
        assert info.value.reason is Failure.UNAVAILABLE
        session = OTPSession.objects.get()
        assert (session.status, session.last_error) == (
            Status.FAILED,
            "KodMobiConnectionError",
        )
        assert list(session.events.values_list("kind", flat=True)) == [
            "created",
            "failed",
        ]

    def test_wrong_key_is_logged_as_our_error(self) -> None:
        with (
            override_settings(
                KODMOBI=kodmobi_settings(SANDBOX={"echo": False, "public_key": "other"})
            ),
            self.assertLogs("django_kodmobi.services", "ERROR") as logs,
            pytest.raises(VerificationError) as info,
        ):
            start_login(PHONE)
        assert info.value.reason is Failure.UNAVAILABLE
        assert "check KODMOBI keys" in logs.output[0]

    def test_blocked_at_kodmobi(self) -> None:
        flow = start_login(PHONE)
        self.kodmobi.faults.clear()
        with override_settings(KODMOBI=kodmobi_settings(MAX_ATTEMPTS=10)):
            # kod.mobi blocks at 5 even when the local limit is looser.
            wrong = other_code(self.kodmobi_code(PHONE))
            reasons = []
            for _ in range(5):
                with pytest.raises(VerificationError) as info:
                    verify_code(flow.session.pk, flow.token, wrong)
                reasons.append(info.value.reason)
        assert reasons[-1] is Failure.LOCKED
        flow.session.refresh_from_db()
        assert flow.session.status == Status.LOCKED

    def test_an_unknown_error_of_any_length_is_kept_cut_to_its_column(self) -> None:
        flow = start_login(PHONE)
        unknown = "ERROR_" + "SOMETHING_NEW_" * 10
        with (
            mock.patch.object(
                self.kodmobi.project, "check", side_effect=Refusal(unknown, 400)
            ),
            pytest.raises(VerificationError),
        ):
            self.verify(flow)
        flow.session.refresh_from_db()
        width = OTPSession._meta.get_field("last_error").max_length
        assert flow.session.last_error == unknown[:width]

    def test_what_only_the_integrator_can_fix_is_logged_for_them(self) -> None:
        def logged_on_start(told: Failure = Failure.UNAVAILABLE) -> str:
            with (
                self.assertLogs("django_kodmobi", "ERROR") as logs,
                pytest.raises(VerificationError) as info,
            ):
                start_login(PHONE)
            assert info.value.reason is told  # to the person
            return logs.output[-1]

        # Out of balance: "we can't send codes right now", not "a minute".
        self.kodmobi.config.balance_empty = True
        logged = logged_on_start(Failure.SENDING_UNAVAILABLE)
        assert "cannot send for this site: ERROR_WRONG_BALANCE" in logged
        self.kodmobi.config.balance_empty = False
        self.kodmobi.config.channels = ()  # a project with no channel at all
        logged = logged_on_start(Failure.SENDING_UNAVAILABLE)
        assert "ERROR_PROJECT_HAS_NO_CHANNELS" in logged
        self.kodmobi.config.channels = ("telegram", "whatsapp", "sms", "email")
        self.kodmobi.config.public_key = "the-key-kod.mobi-gave-us"  # not ours
        logged = logged_on_start()
        assert "check KODMOBI keys" in logged
        assert "ERROR" in logged.split("keys:", 1)[1]  # kod.mobi's words
        assert settings.KODMOBI["PUBLIC_KEY"] not in logged

    def test_a_malformed_challenge_token_never_reaches_kodmobi(self) -> None:
        tokens: list[object] = ["two words", "\x00", "ключ", "x" * 4097, 42, ["x"]]
        for token in tokens:
            with pytest.raises(VerificationError) as info:
                start_login(PHONE, challenge_token=token)  # type: ignore[arg-type]
            assert info.value.reason is Failure.CHALLENGE_FAILED
        assert sum(self.kodmobi.calls.values()) == 0
        # An empty token is none: a form's blank field.
        assert start_login(PHONE, challenge_token="").session.status == Status.SENT

    def test_challenge(self) -> None:
        self.kodmobi.config.challenge_enabled = True
        with pytest.raises(VerificationError) as info:
            start_login(PHONE)
        assert info.value.reason is Failure.CHALLENGE_FAILED
        token = self.kodmobi.config.challenge_token
        flow = start_login(PHONE, challenge_token=token)
        with pytest.raises(VerificationError) as check:
            self.verify(flow)
        assert check.value.reason is Failure.CHALLENGE_FAILED
        code = self.kodmobi_code(PHONE)
        assert (
            verify_code(flow.session.pk, flow.token, code, challenge_token=token).status
            == Status.VERIFIED
        )

    @pytest.mark.filterwarnings("ignore")
    def test_invalid_identifiers(self) -> None:
        for raw in [
            "",
            "   ",
            "12",
            "+7 999 ١٢٣ 45 67",
            "not an email@",
            "+1" + "2" * 300,
            42,
        ]:
            with pytest.raises(VerificationError) as info:
                start_login(raw)  # type: ignore[arg-type]
            assert info.value.reason is Failure.INVALID_IDENTIFIER
        assert OTPSession.objects.count() == 0

    def test_identifier_kinds_can_be_limited(self) -> None:
        with override_settings(KODMOBI=kodmobi_settings(IDENTIFIERS=["email"])):
            with pytest.raises(VerificationError):
                start_login(PHONE)
            assert start_login(EMAIL).session.identifier_kind == "email"


class TestLogin(FlowTestCase):
    def verified(self, identifier: str) -> Flow:
        flow = start_login(identifier)
        self.verify(flow)
        return flow

    def test_logs_in_exactly_once(self) -> None:
        flow = self.verified(EMAIL)
        log_in(session_request(), flow.session.pk, flow.token)
        with pytest.raises(VerificationError) as info:
            log_in(session_request(), flow.session.pk, flow.token)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED

    def test_the_flow_verified_in_a_request_serves_only_its_own_login(self) -> None:
        # verify_and_log_in hands the backend the flow it has just verified;
        # any other id or token in that request is looked up and checked.
        verified, other = start_login(EMAIL), start_login(PHONE)
        request = session_request()
        code = self.kodmobi_code(EMAIL)
        user = verify_and_log_in(
            request, verified.session.pk, verified.token, code, session_login=False
        )
        assert user == self.user
        for session_id, token in (
            (other.session.pk, verified.token),
            (verified.session.pk, other.token),
        ):
            with pytest.raises(VerificationError) as info:
                redeem_for_login(session_id, token, request)
            assert info.value.reason is Failure.NOT_FOUND
        with pytest.raises(VerificationError) as info:
            redeem_for_login(verified.session.pk, verified.token, request)
        assert info.value.reason is Failure.ALREADY_USED

    def test_a_refused_login_keeps_the_flow_verified_and_says_why(self) -> None:
        # Verification and login share one commit: a refusal must not undo
        # the verification, nor go unrecorded.
        flow = start_login("nobody@example.com")
        code = self.kodmobi_code("nobody@example.com")
        with pytest.raises(VerificationError) as info:
            verify_and_log_in(session_request(), flow.session.pk, flow.token, code)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED
        flow.session.refresh_from_db()
        assert (flow.session.status, flow.session.last_error) == (
            Status.VERIFIED,
            "no_account",
        )
        assert self.events(flow) == ["created", "sent", "verified", "login_refused"]

    def test_the_login_writes_the_verification_with_its_own(self) -> None:
        # verify_and_log_in writes "verified" with the login's UPDATE and
        # INSERT: the row ends with both times, the trail with both events,
        # and the receivers hear of the verification once.
        verified = Recorder(signals.session_verified)
        self.addCleanup(verified.close)
        flow = start_login(EMAIL)
        code = self.kodmobi_code(EMAIL)
        verify_and_log_in(session_request(), flow.session.pk, flow.token, code)
        flow.session.refresh_from_db()
        session = flow.session
        assert (session.status, session.user, session.last_error) == (
            Status.CONSUMED,
            self.user,
            "",
        )
        assert session.verified_at is not None and session.consumed_at is not None
        assert session.verified_at <= session.consumed_at
        assert self.events(flow) == ["created", "sent", "verified", "logged_in"]
        assert [c["session"].pk for c in verified.calls] == [session.pk]

    def test_a_flow_another_caller_verified_meanwhile_is_not_logged_in(
        self,
    ) -> None:
        # The login writes a held verification only on a flow still open:
        # if another caller (the browser SDK, say) verified it in between,
        # that caller's verification stands and this one logs nobody in.
        flow = start_login(EMAIL)
        code = self.kodmobi_code(EMAIL)

        def raced(*args: Any, **kwargs: Any) -> bool:
            had_streak = redeem_code(*args, **kwargs)
            other = OTPSession.objects.get(pk=flow.session.pk)
            assert OTPSession.objects.mark_verified(other)
            return had_streak

        with (
            mock.patch("django_kodmobi.services.login.redeem_code", raced),
            pytest.raises(VerificationError) as info,
        ):
            verify_and_log_in(session_request(), flow.session.pk, flow.token, code)
        assert info.value.reason is Failure.ALREADY_USED
        flow.session.refresh_from_db()
        assert (flow.session.status, flow.session.user) == (Status.VERIFIED, None)
        assert "logged_in" not in self.events(flow)

    def test_a_flow_expiring_while_kodmobi_confirms_is_verified_then_expired(
        self,
    ) -> None:
        flow = start_login(EMAIL)
        code = self.kodmobi_code(EMAIL)
        with time_machine.travel(timezone.now(), tick=False) as traveller:

            def confirmed_late(*args: Any, **kwargs: Any) -> bool:
                had_streak = redeem_code(*args, **kwargs)
                traveller.shift(timedelta(hours=1))
                return had_streak

            with (
                mock.patch("django_kodmobi.services.login.redeem_code", confirmed_late),
                pytest.raises(VerificationError) as info,
            ):
                verify_and_log_in(session_request(), flow.session.pk, flow.token, code)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED  # as any refusal
        flow.session.refresh_from_db()
        assert flow.session.status == Status.EXPIRED
        assert flow.session.verified_at is not None
        assert self.events(flow) == ["created", "sent", "verified", "expired"]

    def test_unverified_session_cannot_log_in(self) -> None:
        flow = start_login(EMAIL)
        with pytest.raises(VerificationError):
            log_in(session_request(), flow.session.pk, flow.token)
        flow.session.refresh_from_db()
        assert flow.session.status == Status.SENT

    def test_password_logins_never_reach_the_backend(self) -> None:
        from django.contrib.auth import authenticate

        self.user.set_password("pw")
        self.user.save()
        with mock.patch("django_kodmobi.services.redeem_for_login") as redeem:
            assert authenticate(None, username="anna", password="pw") == self.user
        redeem.assert_not_called()

    def test_the_backend_is_the_last_gate_for_inactive_users(self) -> None:
        from django.contrib.auth import authenticate

        # However the user came out of the flow (a custom resolver, a
        # signup hook), Django's own rule decides last.
        self.user.is_active = False
        self.user.save()
        with mock.patch(
            "django_kodmobi.services.redeem_for_login", return_value=self.user
        ):
            assert (
                authenticate(None, kodmobi_session_id="x", kodmobi_flow_token="y")
                is None
            )

    def test_failed_login_signal_masks_the_token(self) -> None:
        failed = Recorder(user_login_failed)
        self.addCleanup(failed.close)
        flow = start_login(EMAIL)
        with pytest.raises(VerificationError):
            log_in(session_request(), flow.session.pk, flow.token)
        credentials = failed.calls[-1]["credentials"]
        assert flow.token not in str(credentials)
        assert credentials["kodmobi_session_id"] == flow.session.pk

    def test_inactive_user(self) -> None:
        self.user.is_active = False
        self.user.save()
        flow = self.verified(EMAIL)
        with pytest.raises(VerificationError) as info:
            log_in(session_request(), flow.session.pk, flow.token)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED
        flow.session.refresh_from_db()
        # The person is told nothing more; the audit keeps why.
        assert (flow.session.status, flow.session.last_error) == (
            Status.VERIFIED,
            "inactive",
        )

    def test_staff_are_excluded_by_default(self) -> None:
        User.objects.filter(pk=self.user.pk).update(is_staff=True)
        flow = self.verified(EMAIL)
        with pytest.raises(VerificationError) as info:
            log_in(session_request(), flow.session.pk, flow.token)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED
        refused = OTPEvent.objects.get(kind=EventKind.LOGIN_REFUSED)
        assert refused.detail == "staff_excluded"
        stranger = self.verified("stranger@example.com")
        with pytest.raises(VerificationError):
            log_in(session_request(), stranger.session.pk, stranger.token)
        stranger.session.refresh_from_db()
        assert stranger.session.last_error == "no_account"

    def test_superusers_are_excluded_by_default(self) -> None:
        User.objects.filter(pk=self.user.pk).update(is_superuser=True)
        flow = self.verified(EMAIL)
        with pytest.raises(VerificationError):
            log_in(session_request(), flow.session.pk, flow.token)

    def test_staff_may_be_allowed(self) -> None:
        User.objects.filter(pk=self.user.pk).update(is_staff=True)
        flow = self.verified(EMAIL)
        with override_settings(KODMOBI=kodmobi_settings(EXCLUDE_STAFF=False)):
            assert log_in(session_request(), flow.session.pk, flow.token) == self.user

    def test_email_lookup_ignores_case(self) -> None:
        User.objects.filter(pk=self.user.pk).update(email="Anna@Example.COM")
        flow = self.verified("anna@EXAMPLE.com")
        assert log_in(session_request(), flow.session.pk, flow.token) == self.user

    def test_ambiguous_email_logs_nobody_in(self) -> None:
        User.objects.create_user("anna2", EMAIL)
        flow = self.verified(EMAIL)
        with (
            self.assertLogs("django_kodmobi.users", "WARNING"),
            pytest.raises(VerificationError),
        ):
            log_in(session_request(), flow.session.pk, flow.token)

    def test_phone_without_a_phone_field_is_unknown(self) -> None:
        flow = self.verified(PHONE)
        with pytest.raises(VerificationError) as info:
            log_in(session_request(), flow.session.pk, flow.token)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED

    def test_custom_resolver(self) -> None:
        with override_settings(
            KODMOBI=kodmobi_settings(USER_RESOLVER="tests.test_services.resolve_anna")
        ):
            flow = self.verified(PHONE)
            assert log_in(session_request(), flow.session.pk, flow.token) == self.user

    def test_user_logged_in_signal_fires(self) -> None:
        logged_in = Recorder(user_logged_in)
        self.addCleanup(logged_in.close)
        flow = self.verified(EMAIL)
        log_in(session_request(), flow.session.pk, flow.token)
        assert logged_in.calls[0]["user"] == self.user


def resolve_anna(identifier: Any) -> Any:
    return User.objects.get(username="anna")


def allow_example_org(identifier: Any) -> bool:
    return str(identifier.value).endswith("@example.org")


class TestSignup(FlowTestCase):
    NEW = "new.person@example.org"

    def run_flow(self, identifier: str) -> tuple[Flow, Any]:
        flow = start_login(identifier)
        self.verify(flow)
        try:
            return flow, log_in(session_request(), flow.session.pk, flow.token)
        except VerificationError as exc:
            return flow, exc

    def test_off_by_default(self) -> None:
        flow, outcome = self.run_flow(self.NEW)
        assert isinstance(outcome, VerificationError)
        assert outcome.reason is Failure.LOGIN_NOT_ALLOWED
        assert not User.objects.filter(email=self.NEW).exists()
        assert self.events(flow)[-1] == EventKind.LOGIN_REFUSED

    def test_on_creates_a_passwordless_user(self) -> None:
        signed_up = Recorder(signals.user_signed_up)
        self.addCleanup(signed_up.close)
        with override_settings(KODMOBI=kodmobi_settings(SIGNUP=True)):
            flow, user = self.run_flow(self.NEW)
        assert user.email == self.NEW and user.username == self.NEW
        assert not user.has_usable_password()
        assert signed_up.calls[0]["user"] == user
        assert signed_up.calls[0]["request"] is not None  # the backend passes it on
        assert self.events(flow)[-2:] == ["signed_up", "logged_in"]
        flow.session.refresh_from_db()
        assert flow.session.user == user  # the audit says who signed up

    def test_a_signup_that_loses_the_race_creates_nobody(self) -> None:
        flow = start_login(self.NEW)
        self.verify(flow)
        # Another request with this flow consumed it first.
        with (
            override_settings(KODMOBI=kodmobi_settings(SIGNUP=True)),
            mock.patch.object(type(OTPSession.objects), "consume", return_value=False),
            pytest.raises(VerificationError) as info,
        ):
            redeem_for_login(flow.session.pk, flow.token)
        assert info.value.reason is Failure.ALREADY_USED
        assert not User.objects.filter(email=self.NEW).exists()

    def test_policy_callable(self) -> None:
        with override_settings(
            KODMOBI=kodmobi_settings(SIGNUP="tests.test_services.allow_example_org")
        ):
            _, created = self.run_flow(self.NEW)
            _, refused = self.run_flow("someone@example.net")
        assert created.email == self.NEW
        assert isinstance(refused, VerificationError)

    def test_long_email_gets_a_generated_username(self) -> None:
        long_email = "x" * 60 + "@" + "a" * 50 + "." + "b" * 50 + ".example.org"
        with override_settings(KODMOBI=kodmobi_settings(SIGNUP=True)):
            _, user = self.run_flow(long_email)
        assert user.email == long_email and user.username.startswith("user-")

    def test_phone_signup_without_a_phone_field_is_refused(self) -> None:
        with override_settings(KODMOBI=kodmobi_settings(SIGNUP=True)):
            _, outcome = self.run_flow(PHONE)
        assert isinstance(outcome, VerificationError)
        # The consume was rolled back with the failed signup.
        assert OTPSession.objects.get(identifier=PHONE).status == Status.VERIFIED

    def test_a_signup_refused_halfway_keeps_the_flow_verified(self) -> None:
        # The same through verify_and_log_in, where the verification waits
        # for the login to write it: rolled back with the signup, the
        # verification is written on its own.
        flow = start_login(PHONE)
        code = self.kodmobi_code(PHONE)
        with (
            override_settings(KODMOBI=kodmobi_settings(SIGNUP=True)),
            pytest.raises(VerificationError),
        ):
            verify_and_log_in(session_request(), flow.session.pk, flow.token, code)
        flow.session.refresh_from_db()
        assert (flow.session.status, flow.session.user) == (Status.VERIFIED, None)
        assert self.events(flow) == ["created", "sent", "verified"]

    def test_user_factory(self) -> None:
        with override_settings(
            KODMOBI=kodmobi_settings(
                SIGNUP=True, USER_FACTORY="tests.test_services.make_user"
            )
        ):
            _, user = self.run_flow(PHONE)
        assert user.username == "made-+79991234567"

    def test_start_answers_the_same_whatever_the_account_and_policy(self) -> None:
        def start_shape(identifier: str) -> tuple[Any, ...]:
            flow = start_login(identifier)
            session = flow.session
            return (
                session.status,
                session.channel,
                len(flow.token),
                [c.type for c in flow.channels],
                session.attempts_left,
            )

        known = start_shape(EMAIL)
        unknown = start_shape("stranger@example.com")
        with override_settings(KODMOBI=kodmobi_settings(SIGNUP=True)):
            unknown_with_signup = start_shape("other@example.com")
        assert known == unknown == unknown_with_signup


def make_user(identifier: Any) -> Any:
    return User.objects.create_user(f"made-{identifier.value}")


@override_settings(KODMOBI={**settings.KODMOBI, "BROWSER_SDK": True})
class TestCompleteWithBrowserToken(FlowTestCase):
    """The browser SDK checks the code at kod.mobi; the app only redeems."""

    def sdk_start(self, identifier: str) -> Flow:
        """The app starts the flow without sending; the SDK sends and checks."""
        flow = start_login(identifier, send=False, client=ClientInfo("198.51.100.1"))
        self.kodmobi.project.send(
            {"session_id": flow.session.kodmobi_session_id, "type": "email"},
            "http://sb",
        )
        return flow

    def browser_token(self, flow: Flow) -> str:
        """What a browser running the kod.mobi JS SDK would hand over."""
        checked = self.kodmobi.project.check(
            {
                "session_id": flow.session.kodmobi_session_id,
                "code": self.kodmobi_code(flow.session.identifier),
            }
        )
        return str(checked["verify_token"])

    def test_verified_flow_logs_in(self) -> None:
        flow = self.sdk_start(EMAIL)
        session = complete_with_token(
            flow.session.pk, flow.token, self.browser_token(flow)
        )
        assert (session.status, session.identifier) == (Status.VERIFIED, EMAIL)
        assert log_in(session_request(), flow.session.pk, flow.token) == self.user

    def test_a_verified_flow_clears_the_failure_streaks(self) -> None:
        from django_kodmobi import guards
        from django_kodmobi.models import FailureStreak

        guards.record_failure(EMAIL, "198.51.100.1")
        flow = self.sdk_start(EMAIL)
        complete_with_token(flow.session.pk, flow.token, self.browser_token(flow))
        assert not FailureStreak.objects.exists()

    @override_settings(KODMOBI={**settings.KODMOBI, "BROWSER_SDK": False})
    def test_off_by_default(self) -> None:
        flow = self.sdk_start(EMAIL)
        token = self.browser_token(flow)
        with (
            mock.patch.object(self.kodmobi.project, "verify") as verify,
            pytest.raises(VerificationError) as info,
        ):
            complete_with_token(flow.session.pk, flow.token, token)
        assert info.value.reason is Failure.NOT_FOUND
        verify.assert_not_called()

    def test_needs_the_flow_that_started_it(self) -> None:
        flow = self.sdk_start(EMAIL)
        token = self.browser_token(flow)
        with pytest.raises(VerificationError) as info:
            complete_with_token(flow.session.pk, "not-the-flow-token", token)
        assert info.value.reason is Failure.NOT_FOUND

    def test_token_of_another_kodmobi_session_is_refused(self) -> None:
        """A token for the victim's destination got outside this flow proves
        nothing about it: the session must be the flow's own."""
        mine = self.sdk_start(EMAIL)
        verified_elsewhere = {
            "to": EMAIL,
            "session_id": "01J00000000000000000000000",
            "sent_to": "email",
        }
        with (
            mock.patch.object(
                self.kodmobi.project, "verify", return_value=verified_elsewhere
            ),
            pytest.raises(VerificationError) as info,
        ):
            complete_with_token(mine.session.pk, mine.token, "token-from-elsewhere")
        assert info.value.reason is Failure.DESTINATION_MISMATCH
        mine.session.refresh_from_db()
        assert mine.session.status == Status.FAILED

    def test_token_is_single_use(self) -> None:
        flow = self.sdk_start(EMAIL)
        token = self.browser_token(flow)
        complete_with_token(flow.session.pk, flow.token, token)
        with pytest.raises(VerificationError) as info:
            complete_with_token(flow.session.pk, flow.token, token)
        assert info.value.reason is Failure.ALREADY_USED

    @pytest.mark.filterwarnings("ignore")
    def test_bad_tokens(self) -> None:
        flow = self.sdk_start(EMAIL)
        for token in ["", "x" * 513, None]:
            with pytest.raises(VerificationError) as info:
                complete_with_token(flow.session.pk, flow.token, token)  # type: ignore[arg-type]
            assert info.value.reason is Failure.EXPIRED

    def test_kodmobi_down(self) -> None:
        flow = self.sdk_start(EMAIL)
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, frozenset({"verify"})))
        with pytest.raises(VerificationError) as info:
            complete_with_token(flow.session.pk, flow.token, "whatever")
        assert info.value.reason is Failure.UNAVAILABLE


class TestQueryCounts(FlowMixin, TransactionTestCase):
    """Statements (without transaction control), commits and savepoints per
    step, as a request makes them (no test transaction around them): every
    write of a step shares one commit where the order of events allows."""

    def test_start(self) -> None:
        # INSERT session unless a failure streak pauses the client; kod.mobi;
        # [INSERT kod.mobi session (if new), UPDATE session, INSERT the
        # "created" and "sent" events in one statement] (REPLY_WRITE).
        with database_work() as work:
            start_login(PHONE)
        assert (work.statements, work.commits) == (1 + REPLY_WRITE, 2), work.sql
        assert self.events(Flow(OTPSession.objects.get(), "")) == ["created", "sent"]

    def test_verify(self) -> None:
        flow = start_login(PHONE)
        code = self.kodmobi_code(PHONE)
        # SELECT session (which tells that no failure streak exists); [UPDATE
        # the kod.mobi session's budget, UPDATE the flow's attempts]
        # (RESERVATION) before kod.mobi sees the code; [UPDATE verified,
        # INSERT event].
        with database_work() as work:
            verify_code(flow.session.pk, flow.token, code)
        assert (work.statements, work.commits) == (3 + RESERVATION, 2), work.sql
        assert work.savepoints == 0  # the verification and its event: one commit

    def test_verify_after_a_wrong_code(self) -> None:
        flow = start_login(PHONE)
        code = self.kodmobi_code(PHONE)
        with pytest.raises(VerificationError):
            verify_code(flow.session.pk, flow.token, other_code(code))
        # A streak exists now: it is looked up (SELECT), and the right code
        # clears it (DELETE, in the commit that marks the flow verified).
        with database_work() as work:
            verify_code(flow.session.pk, flow.token, code)
        assert (work.statements, work.commits) == (5 + RESERVATION, 2), work.sql

    @override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies")
    def test_login(self) -> None:
        # The first login by code finds the user by a user field and records
        # the contact: SELECT session (joined to its verified contact: none
        # yet), SELECT user, SELECT removed contact; [UPDATE consumed by the
        # user, INSERT contact, INSERT event]; then login() updates
        # last_login (the session engine here keeps its own queries out).
        # The next one finds the user through the contact in the flow's own
        # SELECT: SELECT session, contact and user; [UPDATE, INSERT event];
        # UPDATE last_login.
        for expected in ((5 + CONSUME_WRITE, 2), (2 + CONSUME_WRITE, 2)):
            flow = start_login(EMAIL)
            self.verify(flow)
            with database_work() as work:
                log_in(session_request(), flow.session.pk, flow.token)
            assert (work.statements, work.commits) == expected, work.sql

    @override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies")
    def test_verify_and_log_in(self) -> None:
        Contact.objects.create(
            user=self.user, kind="email", value=EMAIL, verified_at=timezone.now()
        )
        flow = start_login(EMAIL)
        code = self.kodmobi_code(EMAIL)
        # SELECT session, with the contact and user its identifier names;
        # [UPDATE the two attempt counters] before kod.mobi sees the code.
        # Then the login takes the flow it has just verified instead of
        # loading it again, and writes the verification with its own:
        # [UPDATE open → consumed while the contact holds, INSERT the
        # "verified" and "logged_in" events; UPDATE last_login], one commit.
        # A whole login is 10 statements and 4 commits with the start, silent
        # unknowns or not (test_whole_login_with_the_defaults); fewer on
        # PostgreSQL, where some writes share one statement.
        with database_work() as work:
            verify_and_log_in(session_request(), flow.session.pk, flow.token, code)
        statements = 2 + RESERVATION + CONSUME_WRITE
        assert (work.statements, work.commits) == (statements, 2), work.sql
        assert self.events(flow) == ["created", "sent", "verified", "logged_in"]
        # Nothing inside that commit is rolled back on its own, so no step
        # sets a savepoint (two round trips each on a server database).
        assert work.savepoints == 0

    @override_settings(
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        KODMOBI=kodmobi_settings(UNKNOWN_IDENTIFIERS="silent"),
    )
    def test_whole_login_with_the_defaults(self) -> None:
        # The documented budget: 10 statements and 4 commits for a returning
        # person's login, start to finish, with silent unknowns (the
        # default): the start's INSERT also asks whether a verified contact
        # holds the identifier, and whether a failure streak pauses the
        # client. 6 statements on PostgreSQL.
        Contact.objects.create(
            user=self.user, kind="email", value=EMAIL, verified_at=timezone.now()
        )
        with database_work() as work:
            flow = start_login(EMAIL)
            code = self.kodmobi_code(EMAIL)
            verify_and_log_in(session_request(), flow.session.pk, flow.token, code)
        statements = 3 + REPLY_WRITE + RESERVATION + CONSUME_WRITE
        assert statements == (6 if POSTGRESQL else 10)
        assert (work.statements, work.commits) == (statements, 4), work.sql


class TestNoSecretsStored(FlowTestCase):
    def test_no_code_token_or_key_in_the_database_or_logs(self) -> None:
        from django.conf import settings

        with self.assertLogs("django_kodmobi", "DEBUG") as logs:
            logging.getLogger("django_kodmobi").debug("start of flow")
            flow = start_login(PHONE, channel="telegram")
            resend_code(flow.session.pk, flow.token, "sms")
            code = self.kodmobi_code(PHONE)
            with pytest.raises(VerificationError):
                verify_code(
                    flow.session.pk,
                    flow.token,
                    other_code(code),
                )
            verify_code(flow.session.pk, flow.token, code)
            with override_settings(
                KODMOBI=kodmobi_settings(
                    USER_RESOLVER="tests.test_services.resolve_anna"
                )
            ):
                log_in(session_request(), flow.session.pk, flow.token)
        project = self.kodmobi.project
        verify_tokens = list(project._tokens)
        verify_tokens += [s.verify_token for s in project._sessions.values()]
        secrets: list[str] = [
            code,
            flow.token,
            str(settings.KODMOBI["PUBLIC_KEY"]),
            str(settings.KODMOBI["SECRET_KEY"]),
        ]
        secrets += [t for t in verify_tokens if t]
        dump = self.dump_database()
        log_text = "\n".join(logs.output)
        for secret in secrets:
            assert secret not in dump, "a secret reached the database"
            assert secret not in log_text, "a secret reached the logs"
        assert PHONE not in log_text
        assert PHONE in dump  # the identifier itself is the audit's subject

    def dump_database(self) -> str:
        rows = []
        for model in (OTPSession, OTPEvent):
            for values in model.objects.values():
                rows.append(repr(values))
        return "\n".join(rows)


class TestUsernames(TestCase):
    """A new account's username: the identifier when it fits and is free."""

    def test_taken_and_boundary(self) -> None:
        from django_kodmobi.users import _free_username

        User.objects.create_user("taken@example.com")
        assert _free_username(User, "taken@example.com").startswith("user-")
        exactly = "a" * 138 + "@example.com"  # 150 characters, the field's max
        assert len(exactly) == 150 and _free_username(User, exactly) == exactly
        assert _free_username(User, "b" + exactly).startswith("user-")

    def test_a_manager_without_create_user(self) -> None:
        from django_kodmobi import users
        from django_kodmobi.models import IdentifierKind

        manager_class = type(User._default_manager)
        create_user = manager_class.create_user
        del manager_class.create_user  # a manager that has none
        try:
            with override_settings(KODMOBI=kodmobi_settings(SIGNUP=True)):
                user = users.create_user(
                    users.Identifier("new@example.com", IdentifierKind.EMAIL)
                )
        finally:
            manager_class.create_user = create_user  # type: ignore[method-assign]
        assert user is not None and user.pk and not user.has_usable_password()
        assert User.objects.get(pk=user.pk).email == "new@example.com"

    def test_a_user_model_without_is_active_can_log_in(self) -> None:
        from django_kodmobi import users

        class Minimal:
            is_staff = False

        assert users.can_log_in(Minimal())  # type: ignore[arg-type]

    def test_a_user_model_without_staff_flags_can_log_in(self) -> None:
        from django_kodmobi import users

        class Member:
            is_active = True

        assert users.can_log_in(Member())  # type: ignore[arg-type]

    def test_identifier_length_bound(self) -> None:
        from django_kodmobi import users

        longest = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 61
        assert len(longest) == 254
        assert users.normalize_identifier(longest).value == longest
        with pytest.raises(VerificationError):
            users.normalize_identifier(longest + "e")

    def test_a_resolver_gets_the_normalised_identifier(self) -> None:
        from django_kodmobi import users
        from django_kodmobi.models import IdentifierKind

        RESOLVED.clear()
        resolver = "tests.test_services.remember_identifier"
        with override_settings(KODMOBI=kodmobi_settings(USER_RESOLVER=resolver)):
            users.find_user(users.normalize_identifier(" Anna@Example.COM "))
        assert [users.Identifier("anna@example.com", IdentifierKind.EMAIL)] == RESOLVED

    def test_two_accounts_on_one_address_log_nobody_in(self) -> None:
        from django_kodmobi import users

        User.objects.create_user("one", email="Anna@example.com")
        User.objects.create_user("two", email="anna@example.com")
        with self.assertLogs("django_kodmobi", logging.WARNING) as logs:
            found = users.find_user(users.normalize_identifier("anna@example.com"))
        assert found is None
        assert logs.records[0].getMessage() == (
            "kod.mobi login: a***@example.com matches several users"
        )

    def test_a_phone_is_looked_up_as_stored_and_an_email_in_any_case(self) -> None:
        """A phone is stored normalised, so an exact lookup, which its index
        serves; only an email's case is ignored."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from django_kodmobi import users

        User.objects.create_user("anna", email="Anna@example.com", first_name=PHONE)
        phone_field = kodmobi_settings(USER_PHONE_FIELD="first_name")
        with override_settings(KODMOBI=phone_field):
            with CaptureQueriesContext(connection) as by_phone:
                assert users.user_by_field(users.normalize_identifier(PHONE))
            with CaptureQueriesContext(connection) as by_email:
                email = users.normalize_identifier("anna@example.com")
                assert users.user_by_field(email)
        assert "LIKE" not in by_phone[0]["sql"] and "UPPER" not in by_phone[0]["sql"]
        assert "LIKE" in by_email[0]["sql"] or "UPPER" in by_email[0]["sql"]


class TestAuditTrail(FlowTestCase):
    """Each step leaves its event, with its channel and its reason."""

    def test_start_verify_and_their_events(self) -> None:
        verified = Recorder(signals.session_verified)
        self.addCleanup(verified.close)
        flow = start_login(PHONE, channel="whatsapp")
        assert len(flow.token) == 43  # 256 bits, URL-safe
        self.verify(flow)
        trail = list(
            OTPEvent.objects.filter(session=flow.session)
            .order_by("id")
            .values_list("kind", "channel", "detail")
        )
        assert trail == [
            (EventKind.CREATED, "whatsapp", ""),
            (EventKind.SENT, "whatsapp", ""),
            (EventKind.VERIFIED, "whatsapp", ""),
        ]
        assert [(c["sender"], c["session"].pk) for c in verified.calls] == [
            (OTPSession, flow.session.pk)
        ]

    def test_a_login_by_code_records_its_verification_in_full(self) -> None:
        verified = Recorder(signals.session_verified)
        self.addCleanup(verified.close)
        flow = start_login(EMAIL)
        code = self.kodmobi_code(EMAIL)
        with pytest.raises(VerificationError):
            verify_code(flow.session.pk, flow.token, other_code(code))
        verify_and_log_in(session_request(), flow.session.pk, flow.token, code)
        row = OTPSession.objects.get(pk=flow.session.pk)
        assert (row.status, row.last_error, row.user) == (
            Status.CONSUMED,
            "",
            self.user,
        )
        assert list(
            OTPEvent.objects.filter(session=row, kind=EventKind.VERIFIED).values_list(
                "channel", flat=True
            )
        ) == ["email"]
        # Receivers see the flow as written: verified, the wrong code's error gone.
        assert [
            (c["sender"], c["session"].pk, c["session"].last_error)
            for c in verified.calls
        ] == [(OTPSession, row.pk, "")]

    def test_an_event_fits_its_columns(self) -> None:
        flow = start_login(PHONE)
        channel = OTPEvent._meta.get_field("channel").max_length
        detail = OTPEvent._meta.get_field("detail").max_length
        assert channel is not None and detail is not None
        # Cut to fit, never refused (PostgreSQL would refuse a longer value).
        record_event(flow.session, EventKind.FAILED, "c" * 40, "d" * 300)
        record_event(flow.session, EventKind.EXPIRED)
        assert list(
            OTPEvent.objects.filter(session=flow.session)
            .order_by("-id")
            .values_list("channel", "detail")[:2]
        ) == [("", ""), ("c" * channel, "d" * detail)]
        unsent = new_event(flow.session, EventKind.SIGNED_UP)
        assert (unsent.channel, unsent.detail) == ("", "")

    def test_a_failed_start_ends_failed_with_its_reason(self) -> None:
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, frozenset({"create"}), times=3))
        with pytest.raises(VerificationError):
            start_login(PHONE)
        row = OTPSession.objects.get()
        assert (row.status, row.last_error) == (Status.FAILED, "KodMobiServerError")
        assert list(
            OTPEvent.objects.filter(kind=EventKind.FAILED).values_list(
                "channel", "detail"
            )
        ) == [("", "KodMobiServerError")]

    def test_a_failed_flow_takes_no_code(self) -> None:
        flow = start_login(PHONE)
        OTPSession.objects.filter(pk=flow.session.pk).update(status=Status.FAILED)
        with pytest.raises(VerificationError) as info:
            self.verify(flow)
        assert info.value.reason is Failure.EXPIRED
        assert self.kodmobi.calls["check"] == 0

    def test_a_flow_is_named_exactly(self) -> None:
        flow = start_login(PHONE)
        for session_id, token in [
            (flow.session.pk + "0", flow.token),
            (flow.session.pk[:-1], flow.token),
            (None, flow.token),
            (flow.session.pk, None),
        ]:
            with pytest.raises(VerificationError) as info:
                get_flow_session(session_id, token)  # type: ignore[arg-type]
            assert info.value.reason is Failure.NOT_FOUND
        assert get_flow_session(flow.session.pk, flow.token) == flow.session

    def test_expiry_is_recorded_once_without_a_channel(self) -> None:
        flow = start_login(PHONE)
        OTPSession.objects.filter(pk=flow.session.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        for _ in range(2):
            with pytest.raises(VerificationError):
                self.verify(flow)
        assert list(
            OTPEvent.objects.filter(kind=EventKind.EXPIRED).values_list(
                "channel", "detail"
            )
        ) == [("", "")]

    def test_a_failed_check_is_recorded_with_its_reason(self) -> None:
        flow = start_login(PHONE)
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, frozenset({"check"}), times=3))
        with pytest.raises(VerificationError):
            self.verify(flow)
        assert list(
            OTPEvent.objects.filter(kind=EventKind.FAILED).values_list(
                "channel", "detail"
            )
        ) == [("", "KodMobiServerError")]

    def test_channel_names(self) -> None:
        from django_kodmobi.services import channel_name

        assert (channel_name("whatsapp"), channel_name("viber")) == (
            "WhatsApp",
            "viber",
        )

    def test_a_user_model_without_is_active_is_refused_as_staff(self) -> None:
        from django_kodmobi.services.login import _refusal

        class Staff:
            is_staff = True

        assert _refusal(Staff()) == "staff_excluded"  # type: ignore[arg-type]
        assert _refusal(None) == "no_account"
