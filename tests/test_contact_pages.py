"""The contacts pages: plain forms for a logged-in person."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client, TestCase, modify_settings
from django.urls import reverse

from django_kodmobi.models import Contact, OTPSession, Purpose
from django_kodmobi.pages.contacts import CONTACT_FLOW_KEY
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import limits, other_code, step_up

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

    def wrong(self) -> str:
        return other_code(self.kodmobi_code(PHONE))

    def test_add_and_verify_a_phone(self) -> None:
        self.add("+7 999 123-45-67")
        response = self.client.get(reverse("kodmobi:contact_code"))
        assert response.status_code == HTTPStatus.OK
        page = response.content.decode()
        # The suite's phones are on every messenger: kod.mobi picks Telegram.
        assert f"We sent a code to Telegram, {SHOWN}." in page
        response = self.verify(self.wrong())
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

    def test_the_list_is_this_persons_contacts_still_kept(self) -> None:
        proven = "2026-01-01T00:00Z"
        Contact.objects.create(
            user=self.anna, kind="phone", value=PHONE, verified_at=proven
        )
        Contact.objects.create(user=self.anna, kind="email", value="anna@new.example")
        Contact.objects.create(
            user=self.anna,
            kind="email",
            value="anna@old.example",
            verified_at=proven,
            removed_at=proven,
        )
        bob = User.objects.create_user("bob")
        Contact.objects.create(
            user=bob, kind="email", value="bob@example.com", verified_at=proven
        )
        page = self.client.get(reverse("kodmobi:contacts"))
        assert page.status_code == HTTPStatus.OK
        listed = re.findall(
            r'kodmobi-contact-value">([^<]*)</span>(.*?)</li>',
            page.content.decode(),
            re.DOTALL,
        )
        shown = {value: "not verified" in badges for value, badges in listed}
        assert shown == {SHOWN: False, "a•••@new.example": True}

    def test_every_form_carries_its_csrf_token(self) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.anna)
        step_up(client, self.anna)

        def post_from(page: Any, url: str, data: dict[str, str]) -> Any:
            token = re.search(
                r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()
            )
            assert token, page.content.decode()
            return client.post(url, {**data, "csrfmiddlewaretoken": token[1]})

        listing = client.get(reverse("kodmobi:contacts"))
        code_url = reverse("kodmobi:contact_code")
        added = post_from(listing, reverse("kodmobi:contacts"), {"identifier": PHONE})
        assert added["Location"] == code_url
        wrong = post_from(client.get(code_url), code_url, {"code": self.wrong()})
        assert wrong.status_code == HTTPStatus.BAD_REQUEST
        done = post_from(wrong, code_url, {"code": self.kodmobi_code(PHONE)})
        assert done["Location"] == reverse("kodmobi:contacts")
        assert Contact.objects.get(value=PHONE).is_verified

    def test_a_flow_that_is_gone_sends_back_to_the_list(self) -> None:
        self.add()
        OTPSession.objects.all().delete()  # say, by kodmobi_cleanup
        code_url = reverse("kodmobi:contact_code")
        for _ in range(2):  # the first forgets the flow; the second has none
            response = self.client.post(code_url, {"code": self.wrong()})
            assert response["Location"] == reverse("kodmobi:contacts")
            assert CONTACT_FLOW_KEY not in self.client.session
        session = self.client.session
        session[CONTACT_FLOW_KEY] = "not what this app keeps there"
        session.save()
        assert self.client.get(code_url)["Location"] == reverse("kodmobi:contacts")

    def test_code_checks_count_against_the_clients_address(self) -> None:
        self.add()
        with limits(verify_per_ip="1/m"):
            first = self.verify(self.wrong())
            second = self.verify(self.kodmobi_code(PHONE))
        assert "Attempts left: 4." in first.content.decode()
        assert "Too many attempts" in second.content.decode()
        assert self.kodmobi.calls["check"] == 1  # refused here, not at kod.mobi

    def test_an_unknown_action_changes_nothing(self) -> None:
        contact = Contact.objects.create(
            user=self.anna, kind="phone", value=PHONE, verified_at="2026-01-01T00:00Z"
        )
        response = self.client.post(
            reverse("kodmobi:contact_action", args=[contact.pk]), {"action": "drop"}
        )
        assert response["Location"] == reverse("kodmobi:contacts")
        contact.refresh_from_db()
        assert contact.removed_at is None and not contact.primary

    @modify_settings(
        MIDDLEWARE={"remove": "django.contrib.messages.middleware.MessageMiddleware"}
    )
    def test_the_pages_work_without_the_messages_framework(self) -> None:
        self.add()
        assert self.verify(self.kodmobi_code(PHONE)).status_code == HTTPStatus.FOUND
        contact = Contact.objects.get(value=PHONE)
        for contact_id in (contact.pk, "x"):  # removed, then not found
            response = self.client.post(
                reverse("kodmobi:contact_action", args=[contact_id]),
                {"action": "remove"},
            )
            assert response["Location"] == reverse("kodmobi:contacts")
        contact.refresh_from_db()
        assert contact.removed_at is not None

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
