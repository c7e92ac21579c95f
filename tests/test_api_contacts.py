"""The contacts endpoints: a logged-in person's phones and emails, in
browser (session + CSRF) and app (DRF token) modes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from django_kodmobi.models import Contact
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import limits, other_code, step_up
from .test_api import EMAIL, kodmobi, url

User = get_user_model()
PHONE = "+79991234567"


def contact_url(contact_id: Any) -> str:
    return reverse("kodmobi_api:contact", args=[contact_id])


class ContactsApiTestCase(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.anna = User.objects.create_user("anna", EMAIL)
        self.api = APIClient(enforce_csrf_checks=True)
        self.api.force_login(self.anna)
        step_up(self.api, self.anna)
        self.api.get(url("config"))
        self.csrf = {"X-CSRFToken": self.api.cookies["csrftoken"].value}

    def post(self, name: str, body: dict[str, Any]) -> Any:
        return self.api.post(url(name), body, format="json", headers=self.csrf)

    def add_and_verify(self, value: str = PHONE) -> dict[str, Any]:
        flow = self.post("contacts", {"identifier": value}).json()["flow"]
        reply = self.post(
            "contact_verify", {"flow": flow, "code": self.kodmobi_code(value)}
        )
        assert reply.status_code == 200, reply.content
        return dict(reply.json())


class BrowserModeTests(ContactsApiTestCase):
    def test_add_verify_and_list(self) -> None:
        started = self.post("contacts", {"identifier": "+7 999 123 45 67"})
        assert started.status_code == 201
        assert started.json()["destination"] == "+7\u00a0•••\u00a0•••\u00a045\u00a067"
        reply = self.post(
            "contact_verify",
            {"flow": started.json()["flow"], "code": self.kodmobi_code(PHONE)},
        )
        contact = reply.json()
        assert (contact["kind"], contact["verified"], contact["primary"]) == (
            "phone",
            True,
            True,
        )
        assert contact["destination"] == "+7\u00a0•••\u00a0•••\u00a045\u00a067"
        listed = self.api.get(url("contacts")).json()
        assert listed == [contact]
        assert PHONE not in str(listed)

    def test_the_check_passes_the_captcha_answer_and_the_client_on(self) -> None:
        self.kodmobi.config.challenge_enabled = True
        token = self.kodmobi.config.challenge_token
        flow = self.post(
            "contacts", {"identifier": PHONE, "challenge_token": token}
        ).json()["flow"]
        code = self.kodmobi_code(PHONE)
        without = self.post("contact_verify", {"flow": flow, "code": code})
        assert without.json()["code"] == "challenge_failed"
        with limits(verify_per_ip="1/m"):
            answered = {"flow": flow, "code": code, "challenge_token": token}
            assert self.post("contact_verify", answered).status_code == 200
            again = self.post("contact_verify", answered)
        assert (
            again.json()["code"] == "rate_limited"
        )  # counted by this client's address
        assert self.kodmobi.calls["check"] == 2

    def test_a_wrong_code_says_how_many_are_left(self) -> None:
        flow = self.post("contacts", {"identifier": PHONE}).json()["flow"]
        wrong = other_code(self.kodmobi_code(PHONE))
        reply = self.post("contact_verify", {"flow": flow, "code": wrong})
        assert reply.status_code == 400
        assert (reply.json()["code"], reply.json()["attempts_left"]) == (
            "invalid_code",
            4,
        )

    def test_primary_and_remove(self) -> None:
        first = self.add_and_verify("anna@work.example")
        second = self.add_and_verify("anna@home.example")
        assert not second["primary"]
        made = self.api.post(contact_url(second["id"]), headers=self.csrf)
        assert made.status_code == 200 and made.json()["primary"]
        removed = self.api.delete(contact_url(first["id"]), headers=self.csrf)
        assert removed.status_code == 204
        assert [c["id"] for c in self.api.get(url("contacts")).json()] == [second["id"]]
        again = self.api.delete(contact_url(first["id"]), headers=self.csrf)
        assert again.status_code == 404 and again.json()["code"] == "not_found"

    def test_changes_need_the_csrf_header(self) -> None:
        reply = self.api.post(url("contacts"), {"identifier": PHONE}, format="json")
        assert reply.status_code == 403 and reply.json()["code"] == "csrf_failed"
        assert self.kodmobi.calls["create"] == 0

    def test_anonymous_people_get_nothing(self) -> None:
        anonymous = APIClient()
        assert anonymous.get(url("contacts")).status_code == 403
        reply = anonymous.post(url("contacts"), {"identifier": PHONE}, format="json")
        assert reply.status_code == 403
        assert self.kodmobi.calls["create"] == 0

    def test_someone_elses_contact_is_not_found(self) -> None:
        mine = self.add_and_verify()
        bob = User.objects.create_user("bob", "bob@example.com")
        other = APIClient()
        other.force_login(bob)
        step_up(other, bob)
        assert other.delete(contact_url(mine["id"])).status_code == 404
        assert other.post(contact_url(mine["id"])).status_code == 404
        assert Contact.objects.verified().get().user == self.anna

    def test_a_number_on_another_account_is_said_only_after_its_code(self) -> None:
        bob = User.objects.create_user("bob", "bob@example.com")
        Contact.objects.create(
            user=bob, kind="phone", value=PHONE, verified_at="2026-11-01T00:00Z"
        )
        taken = self.post("contacts", {"identifier": PHONE})
        free = self.post("contacts", {"identifier": "+79991234568"})
        assert taken.status_code == free.status_code == 201
        assert set(taken.json()) == set(free.json())
        reply = self.post(
            "contact_verify",
            {"flow": taken.json()["flow"], "code": self.kodmobi_code(PHONE)},
        )
        assert reply.status_code == 409
        assert reply.json()["code"] == "contact_unavailable"


@override_settings(KODMOBI=kodmobi(API_LOGIN="token"))
class AppModeTests(KodMobiTestMixin, TestCase):
    def test_with_a_token_and_no_cookie(self) -> None:
        anna = User.objects.create_user("anna", EMAIL)
        token = Token.objects.create(user=anna)
        api = APIClient(enforce_csrf_checks=True)
        headers = {"Authorization": f"Token {token.key}"}
        # Changes need a step-up: a code to Anna's address, for this token.
        refused = api.post(
            url("contacts"), {"identifier": PHONE}, format="json", headers=headers
        )
        assert refused.status_code == 403
        assert refused.json()["code"] == "step_up_required"
        step = api.post(url("step_up"), {}, format="json", headers=headers).json()
        confirmed = api.post(
            url("step_up_verify"),
            {"flow": step["flow"], "code": self.kodmobi_code(EMAIL)},
            format="json",
            headers=headers,
        )
        assert confirmed.status_code == 204
        flow = api.post(
            url("contacts"), {"identifier": PHONE}, format="json", headers=headers
        ).json()["flow"]
        reply = api.post(
            url("contact_verify"),
            {"flow": flow, "code": self.kodmobi_code(PHONE)},
            format="json",
            headers=headers,
        )
        assert reply.status_code == 200 and reply.json()["verified"]
        assert not api.cookies.get("sessionid")
