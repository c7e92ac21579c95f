"""Settings that would let a person spend a code and then be refused are
system-check errors, and the start refuses before anything is sent."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.test import TestCase, override_settings

from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.login_checks import check_login_settings
from django_kodmobi.models import OTPSession
from django_kodmobi.services import start_login
from django_kodmobi.testing import KodMobiTestMixin

#: auth.User: an email field, no phone field.
BARE = {"PUBLIC_KEY": "pk", "SECRET_KEY": "sk"}


def ids(**kodmobi: Any) -> list[str]:
    with override_settings(KODMOBI={**BARE, **kodmobi}):
        return [message.id for message in check_login_settings()]  # type: ignore[misc]


class LoginCheckTests(TestCase):
    @override_settings(ROOT_URLCONF="tests.urls_delivery_only")
    def test_a_site_that_only_delivers_codes_needs_no_login_settings(self) -> None:
        # Its phones reach no user, and no login by code is served: no E009.
        assert ids() == []

    def test_email_only_on_a_user_model_without_phones_passes(self) -> None:
        assert ids(IDENTIFIERS=["email"]) == []

    def test_phones_that_nothing_can_turn_into_a_user(self) -> None:
        assert ids() == ["kodmobi.E009"]
        assert ids(SIGNUP=True) == ["kodmobi.E009"]  # signup without a factory
        # Any way from a phone to a user passes.
        assert ids(USER_RESOLVER="tests.users.resolve") == []
        assert ids(SIGNUP=True, USER_FACTORY="tests.users.resolve") == []

    def test_a_user_field_that_does_not_exist(self) -> None:
        assert ids(USER_PHONE_FIELD="phone") == ["kodmobi.E008"]
        assert ids(IDENTIFIERS=["email"], USER_EMAIL_FIELD="mail") == ["kodmobi.E008"]
        assert ids(USER_PHONE_FIELD="first_name") == []  # any real field will do

    def test_api_login_modes_need_their_apps(self) -> None:
        email = {"IDENTIFIERS": ["email"]}
        assert ids(**email, API_LOGIN="token") == []  # installed in the suite
        apps = [a for a in settings.INSTALLED_APPS if a != "rest_framework.authtoken"]
        with override_settings(INSTALLED_APPS=apps):
            assert ids(**email, API_LOGIN="token") == ["kodmobi.E010"]
        assert ids(**email, API_LOGIN="jwt") == []
        with mock.patch("importlib.util.find_spec", return_value=None):
            assert ids(**email, API_LOGIN="jwt") == ["kodmobi.E010"]

    def test_each_error_says_what_is_wrong_and_how_to_mend_it(self) -> None:
        def said(**kodmobi: Any) -> list[tuple[str, str]]:
            with override_settings(KODMOBI={**BARE, **kodmobi}):
                return [(m.msg, m.hint or "") for m in check_login_settings()]

        [(msg, hint)] = said()
        assert msg.startswith("People may type a phone (KODMOBI['IDENTIFIERS'])")
        assert hint.startswith("Set KODMOBI['USER_PHONE_FIELD'], a USER_RESOLVER")
        assert hint.endswith("or drop 'phone' from IDENTIFIERS.")
        [(msg, hint)] = said(IDENTIFIERS=["email"], USER_EMAIL_FIELD="mail")
        assert (
            msg
            == "KODMOBI['USER_EMAIL_FIELD'] = 'mail', but auth.User has no such field."
        )
        assert hint == "Name a field of your user model, or leave it None."
        apps = [a for a in settings.INSTALLED_APPS if a != "rest_framework.authtoken"]
        with override_settings(INSTALLED_APPS=apps):
            [(msg, hint)] = said(IDENTIFIERS=["email"], API_LOGIN="token")
        assert (
            "'token' needs DRF's token app" in msg
            and "rest_framework.authtoken" in hint
        )
        with mock.patch("importlib.util.find_spec", return_value=None):
            [(msg, hint)] = said(IDENTIFIERS=["email"], API_LOGIN="jwt")
        assert "needs djangorestframework-simplejwt" in msg
        assert hint == "pip install 'django-kodmobi[jwt]'."

    def test_an_api_login_hook_that_does_not_import(self) -> None:
        from django_kodmobi.checks import check_settings

        with override_settings(
            KODMOBI={**BARE, "API_LOGIN": "nowhere.tokens"},
            AUTHENTICATION_BACKENDS=["django_kodmobi.backends.KodMobiBackend"],
        ):
            assert "kodmobi.E004" in [m.id for m in check_settings()]


@override_settings(KODMOBI={**settings.KODMOBI, "USER_RESOLVER": None})
class StartRefusesWhatCanNeverLogInTests(KodMobiTestMixin, TestCase):
    def test_no_code_for_a_phone_nobody_can_own(self) -> None:
        with pytest.raises(VerificationError) as info:
            start_login("+79991234567")
        assert info.value.reason is Failure.INVALID_IDENTIFIER
        assert self.kodmobi.calls["create"] == 0 and not OTPSession.objects.exists()
        start_login("anna@example.com")  # emails still can
        assert self.kodmobi.calls["create"] == 1
