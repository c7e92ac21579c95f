"""The manual flow: delivering a code the site made, and hearing how it went."""

from __future__ import annotations

import json
import logging
import time
from http import HTTPStatus
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, LiveServerTestCase, TestCase, override_settings
from django.urls import reverse

from django_kodmobi import signals
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import DeliveryStatus, ManualDelivery
from django_kodmobi.sandbox import SandboxEngine, SandboxServer
from django_kodmobi.sandbox.manual import CallbackAttempt
from django_kodmobi.sandbox.project import Refusal
from django_kodmobi.services import (
    manual_channels,
    refresh_delivery,
    send_code,
    start_login,
    verify_code,
)
from django_kodmobi.services.manual import record_delivery
from django_kodmobi.testing import KodMobiTestMixin

PHONE, EMAIL = "+79991234567", "anna@example.com"
SITE = "http://testserver"
CODE = "482913"


def callback_path(delivery: ManualDelivery, token: str) -> str:
    return reverse("kodmobi:manual_callback", args=[delivery.pk, token])


class SendCodeTests(KodMobiTestMixin, TestCase):
    def test_an_email_gets_its_code_by_email(self) -> None:
        delivery = send_code(EMAIL, CODE, purpose="two_factor")
        assert (delivery.status, delivery.channel) == (DeliveryStatus.SENT, "email")
        assert delivery.kodmobi_message_id is not None
        assert delivery.purpose == "two_factor"
        message = self.kodmobi.inbox.last(EMAIL)
        assert message is not None and message.code == CODE

    def test_a_phone_tries_its_messengers_before_sms(self) -> None:
        self.kodmobi.project.set_reachable(PHONE, ["whatsapp", "sms"])
        delivery = send_code(PHONE, CODE)
        assert delivery.channel == "whatsapp"
        assert self.kodmobi.calls["manual_send"] == 2  # Telegram refused, WhatsApp

    def test_a_phone_off_every_messenger_gets_sms(self) -> None:
        self.kodmobi.project.set_reachable(PHONE, ["sms"])
        assert send_code(PHONE, CODE).channel == "sms"
        assert self.kodmobi.calls["manual_send"] == 3

    def test_the_messenger_of_the_last_login_comes_first(self) -> None:
        flow = start_login(PHONE, channel="whatsapp")
        verify_code(flow.session.pk, flow.token, self.kodmobi_code(PHONE))
        self.kodmobi.calls.clear()
        assert send_code(PHONE, CODE).channel == "whatsapp"
        assert self.kodmobi.calls["manual_send"] == 1

    def test_only_this_phones_last_messenger_counts(self) -> None:
        other = "+79990000001"
        flow = start_login(other, channel="whatsapp")
        verify_code(flow.session.pk, flow.token, self.kodmobi_code(other))
        self.kodmobi.calls.clear()
        assert send_code(PHONE, CODE).channel == "telegram"

    def test_a_login_by_sms_leaves_the_messengers_first(self) -> None:
        flow = start_login(PHONE, channel="sms")
        verify_code(flow.session.pk, flow.token, self.kodmobi_code(PHONE))
        assert send_code(PHONE, CODE).channel == "telegram"

    def test_a_last_messenger_no_longer_allowed_is_skipped(self) -> None:
        flow = start_login(PHONE, channel="whatsapp")
        verify_code(flow.session.pk, flow.token, self.kodmobi_code(PHONE))
        self.kodmobi.calls.clear()
        with override_settings(
            KODMOBI={**settings.KODMOBI, "SMS_COUNTRIES": ["KZ"]}
        ):  # WhatsApp now out of bounds for this phone: Telegram is next
            assert send_code(PHONE, CODE).channel == "telegram"
        assert self.kodmobi.calls["manual_send"] == 1

    def test_a_login_that_never_got_its_code_right_does_not_count(self) -> None:
        start_login(PHONE, channel="whatsapp")
        self.kodmobi.calls.clear()
        assert send_code(PHONE, CODE).channel == "telegram"

    def test_a_channel_asked_for_is_the_only_one_tried(self) -> None:
        self.kodmobi.project.set_reachable(PHONE, ["whatsapp", "sms"])
        with pytest.raises(VerificationError) as info:
            send_code(PHONE, CODE, channel="telegram")
        assert info.value.reason is Failure.CHANNEL_UNAVAILABLE
        delivery = ManualDelivery.objects.get()
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.error == "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL"
        assert delivery.finished_at is not None
        with pytest.raises(VerificationError) as info:
            send_code(EMAIL, CODE, channel="sms")  # never tried
        assert info.value.reason is Failure.CHANNEL_UNAVAILABLE
        assert self.kodmobi.calls["manual_send"] == 1

    @override_settings(KODMOBI={**settings.KODMOBI, "SMS_COUNTRIES": ["KZ"]})
    def test_outside_the_sms_countries_only_messengers_are_tried(self) -> None:
        self.kodmobi.project.set_reachable(PHONE, ["sms"])
        with pytest.raises(VerificationError) as info:
            send_code(PHONE, CODE)
        assert info.value.reason is Failure.CHANNEL_UNAVAILABLE
        assert self.kodmobi.calls["manual_send"] == 1  # Telegram only

    def test_codes_kodmobi_does_not_deliver_are_refused_before_asking(self) -> None:
        for code in ["123", "1234567", "ABCD-EFGH", "12a4", "١٢٣٤", "", None]:
            with pytest.raises(ValueError, match="4 to 6 digits"):
                send_code(EMAIL, code)  # type: ignore[arg-type]
        for code in ["1234", "12345", "123456"]:
            send_code(EMAIL, code)
        assert self.kodmobi.calls["manual_send"] == 3

    def test_sends_count_against_the_login_send_limits(self) -> None:
        with override_settings(
            KODMOBI={
                **settings.KODMOBI,
                "RATE_LIMITS": {
                    **settings.KODMOBI["RATE_LIMITS"],
                    "sends_per_identifier": "2/h",
                },
            }
        ):
            send_code(EMAIL, CODE)
            start_login(EMAIL)
            with pytest.raises(VerificationError) as info:
                send_code(EMAIL, CODE)
        assert info.value.reason is Failure.RATE_LIMITED
        assert self.kodmobi.calls["manual_send"] == 1
        assert ManualDelivery.objects.count() == 1

    def test_sends_count_against_the_sites_budget(self) -> None:
        with override_settings(
            KODMOBI={
                **settings.KODMOBI,
                "RATE_LIMITS": {
                    **settings.KODMOBI["RATE_LIMITS"],
                    "sends_global": "2/h",
                },
            }
        ):
            send_code(EMAIL, CODE)
            start_login("boris@example.com")
            with pytest.raises(VerificationError) as info:
                send_code("carol@example.com", CODE)
        assert info.value.reason is Failure.RATE_LIMITED
        assert self.kodmobi.calls["manual_send"] == 1

    def test_kodmobi_down_is_recorded_and_said(self) -> None:
        self.kodmobi.project.config.balance_empty = True
        try:
            with pytest.raises(VerificationError) as info:
                send_code(EMAIL, CODE)
        finally:
            self.kodmobi.project.config.balance_empty = False
        assert info.value.reason is Failure.SENDING_UNAVAILABLE
        assert ManualDelivery.objects.get().error == "ERROR_WRONG_BALANCE"

    def test_no_code_is_kept_or_logged(self) -> None:
        with self.assertLogs("django_kodmobi", logging.DEBUG) as logs:
            delivery = send_code(EMAIL, CODE)
        row = ManualDelivery.objects.filter(pk=delivery.pk).values().get()
        assert all(CODE not in str(value) for value in row.values())
        assert all(CODE not in line and EMAIL not in line for line in logs.output)

    def test_the_project_channels(self) -> None:
        channels = manual_channels()
        assert [c.type for c in channels] == ["telegram", "whatsapp", "sms", "email"]


class DeliveryStatusTests(KodMobiTestMixin, TestCase):
    def test_delivered_a_moment_later(self) -> None:
        delivery = send_code(EMAIL, CODE)
        assert refresh_delivery(delivery).status == DeliveryStatus.SENT
        self.kodmobi.advance(1)
        assert refresh_delivery(delivery).status == DeliveryStatus.DELIVERED
        assert delivery.finished_at is not None and delivery.error == ""

    def test_failures_on_demand(self) -> None:
        self.kodmobi.project.manual.fail_deliveries_to(EMAIL)
        delivery = send_code(EMAIL, CODE)
        self.kodmobi.advance(1)
        refresh_delivery(delivery)
        assert (delivery.status, delivery.error) == (
            DeliveryStatus.FAILED,
            "ERROR_DELIVERY_FAILED",
        )

    def test_a_delivery_finishes_once(self) -> None:
        delivery = send_code(EMAIL, CODE)
        assert record_delivery(delivery, DeliveryStatus.DELIVERED)
        assert not record_delivery(delivery, DeliveryStatus.FAILED, "late")
        assert (delivery.status, delivery.error) == (DeliveryStatus.DELIVERED, "")

    def test_an_error_of_any_length_is_kept_cut_to_its_column(self) -> None:
        delivery = send_code(EMAIL, CODE)
        record_delivery(delivery, DeliveryStatus.FAILED, "ERROR_" + "X" * 200)
        width = ManualDelivery._meta.get_field("error").max_length
        assert width is not None
        assert delivery.error == ("ERROR_" + "X" * 200)[:width]

    def test_a_finished_delivery_is_not_asked_about_again(self) -> None:
        finished: list[ManualDelivery] = []
        signals.code_delivery_finished.connect(
            lambda sender, delivery, **kw: finished.append(delivery),
            sender=ManualDelivery,
            weak=False,
        )
        try:
            delivery = send_code(EMAIL, CODE)
            self.kodmobi.advance(1)
            refresh_delivery(delivery)
            refresh_delivery(delivery)
        finally:
            signals.code_delivery_finished.receivers.clear()
        assert self.kodmobi.calls["manual_message"] == 1
        assert [d.pk for d in finished] == [delivery.pk]


@override_settings(KODMOBI={**settings.KODMOBI, "CALLBACK_BASE_URL": SITE})
class CallbackTests(KodMobiTestMixin, TestCase):
    """The sandbox calls back through Django's test client here; the HTTP
    test below makes it call a live server."""

    def setUp(self) -> None:
        super().setUp()
        desk = self.kodmobi.project.manual
        client = Client()

        def post(url: str, body: bytes) -> int:
            assert url.startswith(SITE)
            return client.post(
                url[len(SITE) :], body, content_type="application/json"
            ).status_code

        desk.sender = post

    def sent(self) -> tuple[ManualDelivery, str]:
        delivery = send_code(EMAIL, CODE)
        (state,) = self.kodmobi.project.manual._messages.values()
        assert state.callback_url is not None
        path = state.callback_url[len(SITE) :]
        return delivery, path

    def test_kodmobi_calls_back_once_delivered(self) -> None:
        delivery, path = self.sent()
        assert path.startswith(f"/accounts/kodmobi/delivery/{delivery.pk}/")
        desk = self.kodmobi.project.manual
        assert desk.run_callbacks() == 0  # not delivered yet
        self.kodmobi.advance(1)
        assert desk.run_callbacks() == 1
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.DELIVERED
        assert desk.log == [CallbackAttempt(1, SITE + path, "delivered", "200")]
        assert desk.run_callbacks() == 0  # done

    def test_a_second_callback_changes_nothing(self) -> None:
        delivery, path = self.sent()
        self.kodmobi.advance(1)
        assert self.client.post(path).json() == {"status": "delivered"}
        finished_at = ManualDelivery.objects.get().finished_at
        assert self.client.post(path).json() == {"status": "delivered"}
        assert ManualDelivery.objects.get().finished_at == finished_at
        assert self.kodmobi.calls["manual_message"] == 1

    def test_a_wrong_token_is_refused_and_not_recorded(self) -> None:
        delivery, path = self.sent()
        self.kodmobi.advance(1)
        token = path.rstrip("/").rsplit("/", 1)[1]
        # Change the first character to one it is not, whatever it was.
        wrong = ("y" if token[0] == "x" else "x") + token[1:]
        for bad in [
            callback_path(delivery, wrong),
            callback_path(delivery, token[:-1]),
            reverse("kodmobi:manual_callback", args=["01" * 13, token]),
        ]:
            assert self.client.post(bad).status_code == HTTPStatus.NOT_FOUND
        assert ManualDelivery.objects.get().status == DeliveryStatus.SENT
        assert self.kodmobi.calls["manual_message"] == 0

    def test_only_post(self) -> None:
        _, path = self.sent()
        assert self.client.get(path).status_code == HTTPStatus.METHOD_NOT_ALLOWED

    def test_without_a_base_url_no_callback_is_asked_for(self) -> None:
        with override_settings(KODMOBI={**settings.KODMOBI, "CALLBACK_BASE_URL": ""}):
            delivery = send_code(EMAIL, CODE)
        (state,) = self.kodmobi.project.manual._messages.values()
        assert state.callback_url is None
        assert delivery.callback_token_hash == ""
        self.kodmobi.advance(1)
        for token in ["", "x", "0" * 43]:
            path = f"/accounts/kodmobi/delivery/{delivery.pk}/{token}/"
            assert self.client.post(path).status_code == HTTPStatus.NOT_FOUND
        assert self.kodmobi.calls["manual_message"] == 0

    def test_kodmobi_down_during_a_callback_asks_for_another(self) -> None:
        from django_kodmobi.sandbox import Fault, FaultKind

        _, path = self.sent()
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, frozenset({"manual_message"})))
        response = self.client.post(path)
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert response.json() == {"status": "sent"}  # as far as we know
        assert ManualDelivery.objects.get().status == DeliveryStatus.SENT


class SandboxCallbackFaultTests(TestCase):
    def engine(
        self, **desk: Any
    ) -> tuple[SandboxEngine, list[tuple[str, dict[str, Any]]]]:
        engine = SandboxEngine()
        calls: list[tuple[str, dict[str, Any]]] = []

        def post(url: str, body: bytes) -> int:
            calls.append((url, json.loads(body)))
            return 200

        manual = engine.project.manual
        manual.sender = post
        for name, value in desk.items():
            setattr(manual, name, value)
        engine.project.manual_send(
            {
                "to": EMAIL,
                "channel": "email",
                "code": CODE,
                "callback_url": "http://127.0.0.1:9/cb",
            }
        )
        return engine, calls

    def test_the_callback_carries_the_final_status(self) -> None:
        engine, calls = self.engine()
        engine.advance(1)
        engine.project.manual.run_callbacks()
        assert calls == [
            (
                "http://127.0.0.1:9/cb",
                {"id": 1, "channel": "email", "status": "delivered", "error": None},
            )
        ]

    def test_slow_callbacks_come_later(self) -> None:
        engine, calls = self.engine(callback_delay=5)
        engine.advance(5.9)
        assert engine.project.manual.run_callbacks() == 0
        engine.advance(0.1)
        assert engine.project.manual.run_callbacks() == 1

    def test_lost_callbacks_never_come(self) -> None:
        engine, calls = self.engine(callbacks_lost=True)
        engine.advance(60)
        engine.project.manual.run_callbacks()
        assert calls == []

    def test_a_refused_callback_is_tried_three_times(self) -> None:
        engine = SandboxEngine()
        engine.project.manual_send(
            {
                "to": EMAIL,
                "channel": "email",
                "code": CODE,
                "callback_url": "http://127.0.0.1:9/cb",
            }
        )
        desk = engine.project.manual
        for _ in range(5):
            engine.advance(1)
            desk.run_callbacks()
        assert len(desk.log) == 3
        assert all(a.outcome.startswith("error:") for a in desk.log)

    def test_a_failing_site_is_called_again_a_second_later(self) -> None:
        engine, calls = self.engine(sender=lambda url, body: 500)
        desk = engine.project.manual
        engine.advance(1)
        assert desk.run_callbacks() == 1
        assert desk.run_callbacks() == 0  # not yet
        engine.advance(1)
        assert desk.run_callbacks() == 1
        engine.advance(1)
        assert desk.run_callbacks() == 1
        engine.advance(1)
        assert desk.run_callbacks() == 0  # given up after three
        assert desk_outcomes(engine) == ["500", "500", "500"]

    def test_the_sandbox_delivers_4_to_6_digits_only(self) -> None:
        project = SandboxEngine().project
        for code in ["123", "1234567", "12a4", "ABCDEFGH", 1234]:
            with pytest.raises(Refusal) as info:
                project.manual_send({"to": EMAIL, "channel": "email", "code": code})
            assert info.value.sys_message == "ERROR_BAD_REQUEST"
        for code in ["1234", "123456"]:
            project.manual_send({"to": EMAIL, "channel": "email", "code": code})

    def test_only_loopback_is_called(self) -> None:
        engine = SandboxEngine()
        engine.project.manual_send(
            {
                "to": EMAIL,
                "channel": "email",
                "code": CODE,
                "callback_url": "https://example.com/cb",
            }
        )
        engine.advance(1)
        engine.project.manual.run_callbacks()
        assert desk_outcomes(engine) == [
            "error: the sandbox calls back on loopback only"
        ]


def desk_outcomes(engine: SandboxEngine) -> list[str]:
    return [attempt.outcome for attempt in engine.project.manual.log]


class CallbackOverHttpTests(KodMobiTestMixin, LiveServerTestCase):
    """The sandbox as a server calls this live Django server back by itself."""

    def test_a_delivery_reported_over_http(self) -> None:
        engine = SandboxEngine()
        engine.project.manual.delivery_seconds = 0.2
        with (
            SandboxServer(engine) as sandbox,
            override_settings(
                KODMOBI={
                    **settings.KODMOBI,
                    "SANDBOX": False,
                    "API_URL": sandbox.url,
                    "PUBLIC_KEY": engine.config.public_key,
                    "SECRET_KEY": engine.config.secret_key,
                    "CALLBACK_BASE_URL": self.live_server_url,
                }
            ),
        ):
            delivery = send_code(EMAIL, CODE)
            for _ in range(100):  # the sandbox calls within a second
                delivery.refresh_from_db()
                if delivery.is_final:
                    break
                time.sleep(0.05)
        assert delivery.status == DeliveryStatus.DELIVERED
        assert desk_outcomes(engine) == ["200"]


class DeliveryAdminTests(KodMobiTestMixin, TestCase):
    def test_the_audit_masks_and_finds_by_the_number_as_typed(self) -> None:
        from django.contrib.auth import get_user_model

        admin = get_user_model().objects.create_superuser("admin", "a@example.com", "x")
        self.client.force_login(admin)
        self.kodmobi.project.manual.fail_deliveries_to(PHONE)
        delivery = send_code(PHONE, CODE, channel="sms", purpose="two_factor")
        send_code(EMAIL, CODE)
        changelist = reverse("admin:kodmobi_manualdelivery_changelist")
        content = self.client.get(changelist).content.decode()
        assert "+7******4567" in content and PHONE not in content
        assert "a***@example.com" in content and EMAIL not in content
        found = self.client.get(changelist, {"q": "+7 (999) 123-45-67"})
        assert list(found.context["cl"].result_list) == [delivery]
        detail = self.client.get(
            reverse("admin:kodmobi_manualdelivery_change", args=[delivery.pk])
        ).content.decode()
        assert "+7******4567" in detail and PHONE not in detail
        assert CODE not in detail and 'name="_save"' not in detail
        self.kodmobi.advance(1)
        refresh_delivery(delivery)
        content = self.client.get(changelist).content.decode()
        assert "kod.mobi could not deliver it (ERROR_DELIVERY_FAILED)" in content
