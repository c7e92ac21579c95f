"""Login with a custom user model identified by phone (tests.PhoneUser).

Runs only under ``tests.settings_phone_user`` (``make test`` does a second
pass with it): the user model cannot be swapped within one process.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings

from django_kodmobi.exceptions import VerificationError
from django_kodmobi.services import log_in, start_login, verify_code
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import session_request

pytestmark = pytest.mark.skipif(
    settings.AUTH_USER_MODEL != "tests.PhoneUser",
    reason="needs --ds=tests.settings_phone_user",
)


class PhoneUserTests(KodMobiTestMixin, TestCase):
    def login(self, typed: str) -> Any:
        flow = start_login(typed)
        verify_code(
            flow.session.pk, flow.token, self.kodmobi_code(flow.session.identifier)
        )
        return log_in(session_request(), flow.session.pk, flow.token)

    def test_phone_typed_nationally_finds_the_user(self) -> None:
        user = get_user_model().objects.create_user("+79991234567")
        assert self.login("8 999 123 45 67") == user

    def test_signup_creates_a_phone_user(self) -> None:
        with override_settings(KODMOBI={**settings.KODMOBI, "SIGNUP": True}):
            user = self.login("+79991234500")
        assert user.phone == "+79991234500"
        assert not user.has_usable_password()

    def test_email_field_of_the_custom_model(self) -> None:
        user = get_user_model().objects.create_user(
            "+79991234501", email="p@example.com"
        )
        assert self.login("P@example.com") == user

    def test_staff_excluded(self) -> None:
        get_user_model().objects.create_user("+79991234502", is_staff=True)
        with pytest.raises(VerificationError):
            self.login("+79991234502")
