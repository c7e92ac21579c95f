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

    @override_settings(KODMOBI={**settings.KODMOBI, "SIGNUP": True})
    def test_a_removed_login_phone_is_refused_never_a_second_account(self) -> None:
        from django_kodmobi.exceptions import Failure
        from django_kodmobi.models import Contact, OTPSession
        from django_kodmobi.services.contacts import remove_contact

        user = get_user_model().objects.create_user("+79991234503")
        assert self.login("+79991234503") == user  # its contact is remembered
        remove_contact(user, Contact.objects.get(user=user).pk)
        self.kodmobi.advance(181)
        for _ in range(3):
            with pytest.raises(VerificationError) as info:
                self.login("+79991234503")
            assert info.value.reason is Failure.LOGIN_NOT_ALLOWED
            self.kodmobi.advance(181)
        assert get_user_model().objects.count() == 1
        last = OTPSession.objects.order_by("-created_at").first()
        assert last is not None and last.last_error == "contact_removed"

    @override_settings(KODMOBI={**settings.KODMOBI, "SIGNUP": True})
    def test_signup_onto_a_phone_the_user_fields_hold_is_refused(self) -> None:
        from django_kodmobi.exceptions import Failure

        get_user_model().objects.create_user("+79991234504")
        with (
            override_settings(
                KODMOBI={**settings.KODMOBI, "SIGNUP": True, "USER_RESOLVER": _nobody}
            ),
            pytest.raises(VerificationError) as info,
        ):
            self.login("+79991234504")
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED
        assert get_user_model().objects.count() == 1

    def test_email_field_of_the_custom_model(self) -> None:
        user = get_user_model().objects.create_user(
            "+79991234501", email="p@example.com"
        )
        assert self.login("P@example.com") == user

    def test_staff_excluded(self) -> None:
        get_user_model().objects.create_user("+79991234502", is_staff=True)
        with pytest.raises(VerificationError):
            self.login("+79991234502")


def _nobody(identifier: Any) -> None:
    """A resolver that finds nobody, so signup tries a taken phone."""
    return None
