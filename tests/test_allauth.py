"""allauth's phone login by code, its code delivered by the kod.mobi sandbox.

Runs with ``--ds=tests.settings_allauth`` where allauth is installed (the
``allauth`` tox env and ``.ci/run``); skipped elsewhere.
"""

from __future__ import annotations

from http import HTTPStatus

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


class CodeFormatCheckTests(TestCase):
    def test_what_kodmobi_cannot_deliver_is_an_error(self) -> None:
        for bad in [
            {},  # allauth's default: 8 letters
            {"numeric": True, "length": 6},  # dashed by default: "123-456"
            {"numeric": True, "length": 8, "dashed": False},
            {"numeric": True, "length": 3, "dashed": False},
        ]:
            with override_settings(ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT=bad):
                assert "kodmobi.E011" in [m.id for m in run_checks()], bad
        assert "kodmobi.E011" not in [m.id for m in run_checks()]
