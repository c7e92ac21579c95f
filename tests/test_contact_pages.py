"""The contacts pages: plain forms for a logged-in person."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.contrib.auth import get_user_model
from django.test import TestCase
from django.urls import reverse

from django_kodmobi.contact_views import CONTACT_FLOW_KEY
from django_kodmobi.models import Contact, OTPSession, Purpose
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import step_up

User = get_user_model()
PHONE = "+79991234567"
SHOWN = "+7\u00a0•••\u00a0•••\u00a045\u00a067"


class ContactPagesTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.anna = User.objects.create_user("anna", "anna@example.com")
        self.client.force_login(self.anna)
        step_up(self.client, self.anna)

    def add(self, value: str = PHONE) -> None:
        response = self.client.post(reverse("kodmobi:contacts"), {"identifier": value})
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"] == reverse("kodmobi:contact_code")

    def verify(self, code: str) -> Any:
        return self.client.post(reverse("kodmobi:contact_code"), {"code": code})

    def test_add_and_verify_a_phone(self) -> None:
        self.add("+7 999 123-45-67")
        page = self.client.get(reverse("kodmobi:contact_code")).content.decode()
        # The suite's phones are on every messenger: kod.mobi picks Telegram.
        assert f"We sent a code to Telegram, {SHOWN}." in page
        wrong = "000000" if self.kodmobi_code(PHONE) != "000000" else "111111"
        response = self.verify(wrong)
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert "Attempts left: 4." in response.content.decode()
        response = self.verify(self.kodmobi_code(PHONE))
        assert response["Location"] == reverse("kodmobi:contacts")
        listing = self.client.get(reverse("kodmobi:contacts")).content.decode()
        assert f"{SHOWN} is verified." in listing
        assert SHOWN in listing and PHONE not in listing
        assert "primary" in listing
        assert "<script>" not in listing and "style=" not in listing

    def test_make_primary_and_remove(self) -> None:
        for value in ("anna@work.example", "anna@home.example"):
            self.add(value)
            self.verify(self.kodmobi_code(value))
        home = Contact.objects.get(value="anna@home.example")
        action = reverse("kodmobi:contact_action", args=[home.pk])
        self.client.post(action, {"action": "primary"})
        home.refresh_from_db()
        assert home.primary
        response = self.client.post(action, {"action": "remove"}, follow=True)
        assert "a•••@home.example is removed." in response.content.decode()
        home.refresh_from_db()
        assert home.removed_at is not None and not home.is_verified

    def test_someone_elses_contact_is_not_found(self) -> None:
        bob = User.objects.create_user("bob")
        theirs = Contact.objects.create(user=bob, kind="phone", value=PHONE)
        for action in ("primary", "remove"):
            response = self.client.post(
                reverse("kodmobi:contact_action", args=[theirs.pk]),
                {"action": action},
                follow=True,
            )
            assert "That contact was not found." in response.content.decode()
        response = self.client.post(
            reverse("kodmobi:contact_action", args=["x"]),
            {"action": "remove"},
            follow=True,
        )
        assert "That contact was not found." in response.content.decode()
        theirs.refresh_from_db()
        assert theirs.removed_at is None

    def test_a_bad_identifier_stays_on_the_page(self) -> None:
        response = self.client.post(
            reverse("kodmobi:contacts"), {"identifier": "not a phone"}
        )
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert (
            "Enter a valid phone number or email address." in response.content.decode()
        )

    def test_the_pages_pass_the_channel_captcha_and_client_on(self) -> None:
        self.kodmobi.config.challenge_enabled = True
        token = self.kodmobi.config.challenge_token
        refused = self.client.post(reverse("kodmobi:contacts"), {"identifier": PHONE})
        assert "Please confirm you are not a robot" in refused.content.decode()
        self.client.post(
            reverse("kodmobi:contacts"),
            {"identifier": PHONE, "channel": "sms", "kodmobi_challenge_token": token},
            HTTP_USER_AGENT="Firefox",
        )
        flow = OTPSession.objects.filter(purpose=Purpose.VERIFY_CONTACT).latest(
            "created_at"
        )
        assert (flow.channel, flow.client_ip, flow.user_agent) == (
            "sms",
            "127.0.0.1",
            "Firefox",
        )
        code = self.kodmobi_code(PHONE)
        without = self.verify(code)
        assert "Please confirm you are not a robot" in without.content.decode()
        done = self.client.post(
            reverse("kodmobi:contact_code"),
            {"code": code, "kodmobi_challenge_token": token},
        )
        assert done["Location"] == reverse("kodmobi:contacts")
        assert CONTACT_FLOW_KEY not in self.client.session  # spent, forgotten

    def test_the_code_page_without_a_flow_goes_back(self) -> None:
        response = self.client.get(reverse("kodmobi:contact_code"))
        assert response["Location"] == reverse("kodmobi:contacts")

    def test_anonymous_people_are_sent_to_log_in(self) -> None:
        self.client.logout()
        for name in ("kodmobi:contacts", "kodmobi:contact_code"):
            response = self.client.get(reverse(name))
            assert response.status_code == HTTPStatus.FOUND
            assert response["Location"].startswith(reverse("kodmobi:login"))


class ContactsWidgetTests(KodMobiTestMixin, TestCase):
    def test_on_a_page_of_the_site(self) -> None:
        anna = User.objects.create_user("anna", "anna@example.com")
        Contact.objects.create(
            user=anna, kind="phone", value=PHONE, verified_at="2026-01-01T00:00Z"
        )
        assert (
            "kodmobi-contacts"
            not in self.client.get("/contacts-widget/").content.decode()
        )
        self.client.force_login(anna)
        page = self.client.get("/contacts-widget/").content.decode()
        assert SHOWN in page and PHONE not in page
        assert f'action="{reverse("kodmobi:contacts")}"' in page
        assert "csrfmiddlewaretoken" in page
        assert "<script>" not in page and "style=" not in page
