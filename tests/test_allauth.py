"""allauth's phone login by code, its code delivered by the kod.mobi sandbox.

Runs with ``--ds=tests.settings_allauth`` where allauth is installed (the
``allauth`` tox env and ``.ci/run``); skipped elsewhere.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from unittest import mock

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import TestCase, override_settings
from django.urls import reverse

from django_kodmobi.models import Contact, DeliveryStatus, ManualDelivery
from django_kodmobi.testing import KodMobiTestMixin

pytest.importorskip("allauth")
pytestmark = pytest.mark.skipif(
    not apps.is_installed("allauth.account"), reason="needs tests.settings_allauth"
)

PHONE = "+79991234567"


class AllauthPhoneLoginTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.anna = get_user_model().objects.create_user("anna")
        Contact.objects.create(
            user=self.anna, kind="phone", value=PHONE, verified_at="2026-01-01T00:00Z"
        )

    def test_login_by_code_with_the_code_from_the_sandbox(self) -> None:
        response = self.client.post(
            reverse("account_request_login_code"), {"phone": PHONE}
        )
        assert response.status_code == HTTPStatus.FOUND, response.content
        delivery = ManualDelivery.objects.get()
        assert (delivery.purpose, delivery.status) == ("allauth", DeliveryStatus.SENT)
        message = self.kodmobi.inbox.last(PHONE)
        assert message is not None and message.session_id is None  # manual flow
        code = message.code
        assert code.isdigit() and len(code) == 6
        response = self.client.post(
            reverse("account_confirm_login_code"), {"code": code}
        )
        assert response.status_code == HTTPStatus.FOUND
        assert self.client.session["_auth_user_id"] == str(self.anna.pk)

    def test_an_unknown_phone_gets_no_code(self) -> None:
        self.client.post(
            reverse("account_request_login_code"), {"phone": "+79991234568"}
        )
        assert self.kodmobi.calls["manual_send"] == 0

    def test_a_phone_another_account_verified_meanwhile_is_no_500(self) -> None:
        """allauth's own signup views: the code goes out for a free number,
        another account verifies it before the code is typed."""
        new_phone = "+79991234577"
        response = self.client.post(reverse("account_signup"), {"phone": new_phone})
        assert response.status_code == HTTPStatus.FOUND, response.content
        message = self.kodmobi.inbox.last(new_phone)
        assert message is not None
        bob = get_user_model().objects.create_user("bob")
        Contact.objects.create(
            user=bob, kind="phone", value=new_phone, verified_at="2026-01-01T00:00Z"
        )
        # allauth's form finds the number free: bob's verification lands
        # between its check and the adapter's (the race it cannot close).
        with mock.patch("allauth.account.forms.phone_already_exists"):
            response = self.client.post(
                reverse("account_verify_phone"), {"code": message.code}
            )
        assert response.status_code == HTTPStatus.FOUND
        theirs = Contact.objects.get(value=new_phone, verified_at__isnull=False)
        assert theirs.user == bob
        assert Contact.objects.filter(value=new_phone).count() == 2

    def test_phones_are_the_contacts(self) -> None:
        from tests.allauth_adapter import AccountAdapter

        adapter = AccountAdapter()
        assert adapter.get_phone(self.anna) == (PHONE, True)
        assert adapter.get_user_by_phone(PHONE) == self.anna
        assert adapter.get_user_by_phone("not a phone") is None
        bob = get_user_model().objects.create_user("bob")
        adapter.set_phone(bob, "+79991234569", verified=False)
        adapter.set_phone(bob, "+79991234568", verified=False)  # replaces it
        assert adapter.get_phone(bob) == ("+79991234568", False)
        assert Contact.objects.filter(user=bob).count() == 1
        adapter.set_phone_verified(bob, "+79991234568")
        assert adapter.get_phone(bob) == ("+79991234568", True)
        assert Contact.objects.get(value="+79991234568").primary


class AdapterRulesTests(KodMobiTestMixin, TestCase):
    """The phone half of the adapter holds the contacts' own rules."""

    def setUp(self) -> None:
        from tests.allauth_adapter import AccountAdapter

        super().setUp()
        self.adapter = AccountAdapter()
        self.anna = get_user_model().objects.create_user("anna")

    def phone(self, value: str, user: Any = None, **fields: object) -> Contact:
        return Contact.objects.create(
            user=user or self.anna, kind="phone", value=value, **fields
        )

    def test_only_a_verified_phone_names_its_user(self) -> None:
        pending = self.phone(PHONE)
        assert self.adapter.get_user_by_phone(PHONE) is None
        Contact.objects.filter(pk=pending.pk).update(verified_at="2026-01-01T00:00Z")
        assert self.adapter.get_user_by_phone(PHONE) == self.anna

    def test_the_phone_shown_is_the_primary_then_the_latest_kept(self) -> None:
        self.phone("+79991234561", verified_at="2026-01-01T00:00Z", primary=True)
        self.phone("+79991234562", verified_at="2026-01-02T00:00Z")
        self.phone(
            "+79991234563",
            verified_at="2026-01-03T00:00Z",
            removed_at="2026-01-04T00:00Z",
        )
        assert self.adapter.get_phone(self.anna) == ("+79991234561", True)
        Contact.objects.update(primary=False)
        assert self.adapter.get_phone(self.anna) == ("+79991234562", True)

    def test_a_new_phone_replaces_only_a_pending_other_one(self) -> None:
        verified = self.phone("+79991234561", verified_at="2026-01-01T00:00Z")
        self.adapter.set_phone(self.anna, "+79991234562", verified=False)
        pending = Contact.objects.get(value="+79991234562")
        self.adapter.set_phone(self.anna, "+7 999 123-45-62", verified=False)
        kept = set(Contact.objects.filter(user=self.anna).values_list("pk", flat=True))
        assert kept == {verified.pk, pending.pk}  # the same one, not made again

    def test_a_phone_verified_is_this_users_alone(self) -> None:
        bob = get_user_model().objects.create_user("bob")
        theirs = self.phone(PHONE, user=bob)
        self.adapter.set_phone_verified(self.anna, PHONE)
        theirs.refresh_from_db()
        assert not theirs.is_verified

    def test_a_reauthentication_code_is_audited_as_one(self) -> None:
        self.adapter.send_verification_code_sms(
            self.anna, PHONE, "123456", reauthentication=True
        )
        self.adapter.send_verification_code_sms(self.anna, PHONE, "654321")
        purposes = ManualDelivery.objects.order_by("created_at").values_list(
            "purpose", flat=True
        )
        assert list(purposes) == ["allauth_reauth", "allauth"]


class CodeFormatCheckTests(TestCase):
    def test_what_kodmobi_cannot_deliver_is_an_error(self) -> None:
        for bad in [
            {},  # allauth's default: 8 letters
            {"numeric": True, "length": 6},  # dashed by default: "123-456"
            {"numeric": True, "length": 8, "dashed": False},
            {"numeric": True, "length": 3, "dashed": False},
            {"numeric": True, "length": 7, "dashed": False},
        ]:
            with override_settings(ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT=bad):
                assert "kodmobi.E011" in [m.id for m in run_checks()], bad
        assert "kodmobi.E011" not in [m.id for m in run_checks()]
        for good in [4, 5]:
            fine = {"numeric": True, "length": good, "dashed": False}
            with override_settings(ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT=fine):
                assert "kodmobi.E011" not in [m.id for m in run_checks()], good
        # A project whose adapter sends its own codes is none of kod.mobi's.
        with override_settings(
            ACCOUNT_ADAPTER="allauth.account.adapter.DefaultAccountAdapter",
            ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT={},
        ):
            assert "kodmobi.E011" not in [m.id for m in run_checks()]
