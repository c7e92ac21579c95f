"""Step-up: a fresh code before a sensitive view, by page, mixin and API."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import TestCase, modify_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import Contact, OTPSession, Purpose, Status
from django_kodmobi.pages.step_up import STEP_UP_FLOW_KEY
from django_kodmobi.services import ClientInfo
from django_kodmobi.services.step_up import (
    SESSION_KEY,
    confirm_step_up,
    start_step_up,
    step_up_destination,
)
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import other_code, session_request, step_up
from .test_api import url

User = get_user_model()
EMAIL, PHONE = "anna@example.com", "+79991234567"
STEP_UP = reverse("kodmobi:step_up")


class StepUpTestCase(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.anna = User.objects.create_user("anna", EMAIL)

    def wrong(self, to: str) -> str:
        return other_code(self.kodmobi_code(to))

    def log_in_by_code(self) -> None:
        self.client.post(reverse("kodmobi:login"), {"identifier": EMAIL})
        self.client.post(reverse("kodmobi:code"), {"code": self.kodmobi_code(EMAIL)})

    def confirm_on_the_page(self, next_url: str) -> Any:
        self.client.post(STEP_UP, {"send": "1", "next": next_url})
        return self.client.post(
            STEP_UP, {"code": self.kodmobi_code(EMAIL), "next": next_url}
        )


class DecoratorTests(StepUpTestCase):
    def test_anonymous_people_log_in_first(self) -> None:
        response = self.client.get("/sensitive/")
        assert response["Location"].startswith(reverse("kodmobi:login"))

    def test_a_code_then_back_then_no_prompt_within_max_age(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.client.force_login(self.anna)  # by password, say
            response = self.client.get("/sensitive/?tab=keys")
            assert (
                response["Location"] == f"{STEP_UP}?next=%2Fsensitive%2F%3Ftab%3Dkeys"
            )
            page = self.client.get(response["Location"]).content.decode()
            assert "To go on, confirm a code we send to a•••@example.com." in page
            done = self.confirm_on_the_page("/sensitive/?tab=keys")
            assert done["Location"] == "/sensitive/?tab=keys"
            assert self.client.get("/sensitive/").content == b"the sensitive page"
            clock.shift(300)
            assert self.client.get("/sensitive/").status_code == HTTPStatus.OK
            clock.shift(1)
            assert self.client.get("/sensitive/").status_code == HTTPStatus.FOUND
        flow = OTPSession.objects.get(purpose=Purpose.STEP_UP)
        assert (flow.status, flow.user) == (Status.CONSUMED, self.anna)

    def test_a_login_by_code_counts(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.log_in_by_code()
            assert self.client.get("/sensitive/").status_code == HTTPStatus.OK
            clock.shift(61)
            # max_age=60 on this one; the other still has its 300 s.
            assert self.client.get("/very-sensitive/").status_code == HTTPStatus.FOUND
            assert self.client.get("/sensitive/").status_code == HTTPStatus.OK

    def test_the_mixin(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.client.force_login(self.anna)
            step_up(self.client, self.anna)
            assert self.client.get("/sensitive-view/").content == b"the sensitive view"
            clock.shift(31)
            assert self.client.get("/sensitive-view/").status_code == HTTPStatus.FOUND

    def test_a_mark_is_for_one_user(self) -> None:
        bob = User.objects.create_user("bob", "bob@example.com")
        self.client.force_login(self.anna)
        session = self.client.session
        from django_kodmobi import clock

        session[SESSION_KEY] = {"user": str(bob.pk), "at": clock.epoch()}
        session.save()
        assert self.client.get("/sensitive/").status_code == HTTPStatus.FOUND

    def test_a_mark_from_the_future_does_not_count(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.client.force_login(self.anna)
            clock.shift(3600)
            step_up(self.client, self.anna)
            clock.shift(-3600)
            assert self.client.get("/sensitive/").status_code == HTTPStatus.FOUND


class StepUpPageTests(StepUpTestCase):
    def test_wrong_codes_are_counted_and_capped(self) -> None:
        self.client.force_login(self.anna)
        self.client.post(STEP_UP, {"send": "1"})
        for left in (4, 3, 2, 1):
            response = self.client.post(STEP_UP, {"code": self.wrong(EMAIL)})
            assert f"Attempts left: {left}." in response.content.decode()
        self.client.post(STEP_UP, {"code": self.wrong(EMAIL)})
        response = self.client.post(STEP_UP, {"code": self.kodmobi_code(EMAIL)})
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert self.client.get("/sensitive/").status_code == HTTPStatus.FOUND

    def test_the_page_passes_the_captcha_answer_and_the_client_on(self) -> None:
        self.client.force_login(self.anna)
        self.kodmobi.config.challenge_enabled = True
        token = self.kodmobi.config.challenge_token
        refused = self.client.post(STEP_UP, {"send": "1", "next": "/sensitive/"})
        assert "Please confirm you are not a robot" in refused.content.decode()
        assert 'value="/sensitive/"' in refused.content.decode()  # next kept
        self.client.post(
            STEP_UP,
            {"send": "1", "kodmobi_challenge_token": token},
            HTTP_USER_AGENT="Firefox",
        )
        flow = OTPSession.objects.filter(purpose=Purpose.STEP_UP).latest("created_at")
        assert (flow.status, flow.client_ip, flow.user_agent) == (
            Status.SENT,
            "127.0.0.1",
            "Firefox",
        )
        code = self.kodmobi_code(EMAIL)
        without = self.client.post(STEP_UP, {"code": code})
        assert "Please confirm you are not a robot" in without.content.decode()
        done = self.client.post(
            STEP_UP,
            {"code": code, "kodmobi_challenge_token": token, "next": "/sensitive/"},
        )
        assert done["Location"] == "/sensitive/"
        # The flow is spent and forgotten: the page offers a new code.
        assert STEP_UP_FLOW_KEY not in self.client.session

    def test_next_is_checked(self) -> None:
        self.client.force_login(self.anna)
        done = self.confirm_on_the_page("https://evil.example/")
        assert done["Location"] == "/"

    def test_an_unsafe_next_is_never_echoed_into_the_forms(self) -> None:
        self.client.force_login(self.anna)
        for unsafe in (
            "https://evil.example/",
            "//evil.example/",
            "javascript:alert(1)",
        ):
            page = self.client.get(STEP_UP, {"next": unsafe}).content.decode()
            sent = self.client.post(STEP_UP, {"send": "1", "next": unsafe})
            for content in (page, sent.content.decode()):
                assert "evil.example" not in content and "javascript:" not in content

    def test_nowhere_to_send_a_code(self) -> None:
        nobody = User.objects.create_user("nobody")
        self.client.force_login(nobody)
        refused = self.client.get(STEP_UP)
        assert refused.status_code == HTTPStatus.FORBIDDEN
        assert "Add a phone or email to your account first." in refused.content.decode()
        assert self.kodmobi.calls["create"] == 0

    def test_next_is_carried_from_the_address_to_each_form(self) -> None:
        self.client.force_login(self.anna)
        page = self.client.get(STEP_UP, {"next": "/sensitive/"})
        assert page.status_code == HTTPStatus.OK
        assert page.content.decode().count('name="next" value="/sensitive/"') == 1
        sent = self.client.post(STEP_UP, {"send": "1", "next": "/sensitive/"})
        assert sent.content.decode().count('name="next" value="/sensitive/"') == 2
        wrong = {"code": self.wrong(EMAIL), "next": "/sensitive/"}
        refused = self.client.post(STEP_UP, wrong).content.decode()
        assert refused.count('name="next" value="/sensitive/"') == 2
        # Without one, the forms carry none (and the way back is "/").
        for response in (
            self.client.get(STEP_UP),
            self.client.post(STEP_UP, {"send": "1"}),
            self.client.post(STEP_UP, {"code": self.wrong(EMAIL)}),
        ):
            content = response.content.decode()
            assert content.count('name="next" value=""') == content.count('"next"')

    def test_a_code_that_cannot_be_one_is_not_checked(self) -> None:
        self.client.force_login(self.anna)
        self.client.post(STEP_UP, {"send": "1"})
        # Refused by the form (empty, too long), then by the service.
        for code in ("", "1" * 33, "abc"):
            response = self.client.post(STEP_UP, {"code": code})
            assert response.status_code == HTTPStatus.BAD_REQUEST
            assert 'aria-invalid="true"' in response.content.decode()
        assert self.kodmobi.calls["check"] == 0

    def test_the_page_asks_for_the_code_only_while_one_can_be_used(self) -> None:
        sent = "We sent a code to a•••@example.com."
        offer = "To go on, confirm a code we send to a•••@example.com."

        def shown() -> str:
            page = self.client.get(STEP_UP).content.decode()
            assert (sent in page) != (offer in page)
            assert (sent in page) == ('name="code"' in page)
            return "code" if sent in page else "offer"

        self.client.force_login(self.anna)
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            assert shown() == "offer"
            self.client.post(STEP_UP, {"send": "1"})
            assert shown() == "code"
            clock.move_to(OTPSession.objects.get().expires_at)
            assert shown() == "offer"  # expired
            self.client.post(STEP_UP, {"send": "1"})
            assert shown() == "code"
            for _ in range(5):
                self.client.post(STEP_UP, {"code": self.wrong(EMAIL)})
            assert shown() == "offer"  # locked
            self.client.post(STEP_UP, {"send": "1"})
            OTPSession.objects.all().delete()  # say, by kodmobi_cleanup
            assert shown() == "offer"
            session = self.client.session
            session[STEP_UP_FLOW_KEY] = "not what this app keeps there"
            session.save()
            assert shown() == "offer"
            refused = self.client.post(STEP_UP, {"code": self.wrong(EMAIL)})
            assert refused.status_code == HTTPStatus.BAD_REQUEST

    @modify_settings(
        MIDDLEWARE={"remove": "django.contrib.messages.middleware.MessageMiddleware"}
    )
    def test_the_page_works_without_the_messages_framework(self) -> None:
        self.client.force_login(self.anna)
        self.kodmobi.config.challenge_enabled = True
        refused = self.client.post(STEP_UP, {"send": "1"})  # kod.mobi refuses
        assert refused.status_code == HTTPStatus.OK
        assert STEP_UP_FLOW_KEY not in self.client.session


class ServiceTests(StepUpTestCase):
    def test_the_primary_contact_first_a_phone_before_an_email(self) -> None:
        assert step_up_destination(self.anna).value == EMAIL  # type: ignore[union-attr]
        Contact.objects.create(
            user=self.anna,
            kind="email",
            value="a@work.example",
            verified_at="2026-01-01T00:00Z",
        )
        assert step_up_destination(self.anna).value == "a@work.example"  # type: ignore[union-attr]
        Contact.objects.create(
            user=self.anna, kind="phone", value=PHONE, verified_at="2026-01-01T00:00Z"
        )
        assert step_up_destination(self.anna).value == PHONE  # type: ignore[union-attr]
        Contact.objects.filter(value="a@work.example").update(primary=True)
        assert step_up_destination(self.anna).value == "a@work.example"  # type: ignore[union-attr]

    def test_a_removed_contact_gets_no_step_up_code(self) -> None:
        from django_kodmobi.services.contacts import remove_contact

        contact = Contact.objects.create(
            user=self.anna, kind="email", value=EMAIL, verified_at="2026-01-01T00:00Z"
        )
        remove_contact(self.anna, contact.pk)
        # The user field still holds the address; it is removed all the same.
        assert self.anna.email == EMAIL
        assert step_up_destination(self.anna) is None
        with pytest.raises(VerificationError) as info:
            start_step_up(self.anna)
        assert info.value.reason is Failure.NOT_FOUND
        assert self.kodmobi.calls["create"] == 0

    def test_among_equals_the_contact_proven_first(self) -> None:
        for value, verified_at in (
            ("late@work.example", "2026-02-01T00:00Z"),
            ("early@work.example", "2026-01-01T00:00Z"),
        ):
            Contact.objects.create(
                user=self.anna, kind="email", value=value, verified_at=verified_at
            )
        assert step_up_destination(self.anna).value == "early@work.example"  # type: ignore[union-attr]

    def test_the_flow_is_started_as_asked(self) -> None:
        client = ClientInfo("203.0.113.5", "Firefox")
        assert start_step_up(self.anna, client=client).session.client_ip == client.ip
        self.kodmobi.config.challenge_enabled = True
        with pytest.raises(VerificationError) as info:
            start_step_up(self.anna)
        assert info.value.reason is Failure.CHALLENGE_FAILED
        token = self.kodmobi.config.challenge_token
        assert start_step_up(self.anna, challenge_token=token).session.sent_at

    def test_only_the_user_it_was_sent_for_can_confirm(self) -> None:
        bob = User.objects.create_user("bob", "bob@example.com")
        flow = start_step_up(self.anna)
        request = session_request()
        request.user = bob
        with pytest.raises(VerificationError) as info:
            confirm_step_up(
                request, flow.session.pk, flow.token, self.kodmobi_code(EMAIL)
            )
        assert info.value.reason is Failure.NOT_FOUND
        assert self.kodmobi.calls["check"] == 0
        assert SESSION_KEY not in request.session

    def test_a_login_flow_is_not_a_step_up(self) -> None:
        from django_kodmobi.services import start_login

        flow = start_login(EMAIL)
        OTPSession.objects.filter(pk=flow.session.pk).update(user=self.anna)
        request = session_request()
        request.user = self.anna
        with pytest.raises(VerificationError) as info:
            confirm_step_up(
                request, flow.session.pk, flow.token, self.kodmobi_code(EMAIL)
            )
        assert info.value.reason is Failure.NOT_FOUND


class ApiTests(StepUpTestCase):
    def test_the_permission_and_the_endpoints_in_browser_mode(self) -> None:
        api = APIClient(enforce_csrf_checks=True)
        api.force_login(self.anna)
        api.get(url("config"))
        csrf = {"X-CSRFToken": api.cookies["csrftoken"].value}
        refused = api.get("/sensitive-api/")
        assert refused.status_code == HTTPStatus.FORBIDDEN
        step = api.post(url("step_up"), {}, format="json", headers=csrf)
        assert step.status_code == HTTPStatus.CREATED
        assert step.json()["destination"] == "a•••@example.com"
        confirmed = api.post(
            url("step_up_verify"),
            {"flow": step.json()["flow"], "code": self.kodmobi_code(EMAIL)},
            format="json",
            headers=csrf,
        )
        assert confirmed.status_code == HTTPStatus.NO_CONTENT
        assert api.get("/sensitive-api/").json() == {"ok": True}

    def test_the_captcha_answer_and_the_client_are_passed_on(self) -> None:
        self.kodmobi.config.challenge_enabled = True
        token = self.kodmobi.config.challenge_token
        api = APIClient()
        api.force_login(self.anna)
        refused = api.post(url("step_up"), {}, format="json")
        assert refused.json()["code"] == "challenge_failed"
        step = api.post(
            url("step_up"),
            {"challenge_token": token},
            format="json",
            HTTP_USER_AGENT="Firefox",
        )
        flow = OTPSession.objects.get(status=Status.SENT)
        assert (flow.client_ip, flow.user_agent) == ("127.0.0.1", "Firefox")
        answer = {"flow": step.json()["flow"], "code": self.kodmobi_code(EMAIL)}
        without = api.post(url("step_up_verify"), answer, format="json")
        assert without.json()["code"] == "challenge_failed"
        confirmed = api.post(
            url("step_up_verify"), {**answer, "challenge_token": token}, format="json"
        )
        assert confirmed.status_code == HTTPStatus.NO_CONTENT

    def test_nowhere_to_send_it(self) -> None:
        api = APIClient()
        api.force_login(User.objects.create_user("nobody"))
        reply = api.post(url("step_up"), {}, format="json")
        assert reply.status_code == HTTPStatus.NOT_FOUND
        assert reply.json()["code"] == "not_found"


class ContactChangesNeedAStepUpTests(StepUpTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.client.force_login(self.anna)  # by password: no step-up yet

    def test_pages(self) -> None:
        response = self.client.post(reverse("kodmobi:contacts"), {"identifier": PHONE})
        assert response["Location"].startswith(STEP_UP)
        mine = Contact.objects.create(
            user=self.anna, kind="email", value=EMAIL, verified_at="2026-01-01T00:00Z"
        )
        action = reverse("kodmobi:contact_action", args=[mine.pk])
        response = self.client.post(action, {"action": "remove"})
        assert response["Location"].startswith(STEP_UP)
        mine.refresh_from_db()
        assert mine.removed_at is None
        assert self.kodmobi.calls["create"] == 0

    def test_api(self) -> None:
        api = APIClient()
        api.force_login(self.anna)
        reply = api.post(url("contacts"), {"identifier": PHONE}, format="json")
        assert reply.status_code == HTTPStatus.FORBIDDEN
        assert reply.json()["code"] == "step_up_required"
        assert api.get(url("contacts")).status_code == HTTPStatus.OK
        assert self.kodmobi.calls["create"] == 0

    def test_a_first_contact_needs_none(self) -> None:
        nobody = User.objects.create_user("nobody")
        self.client.force_login(nobody)
        response = self.client.post(reverse("kodmobi:contacts"), {"identifier": PHONE})
        assert response["Location"] == reverse("kodmobi:contact_code")
        api = APIClient()
        api.force_login(nobody)
        reply = api.post(url("contacts"), {"identifier": "+79991234568"}, format="json")
        assert reply.status_code == HTTPStatus.CREATED
