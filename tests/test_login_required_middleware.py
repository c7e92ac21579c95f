"""Django's ``LoginRequiredMiddleware`` (5.1+) on: the login stays open to
people who are not logged in, and the pages for those who are still ask."""

from __future__ import annotations

from http import HTTPStatus

import django
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_kodmobi.testing import KodMobiTestMixin

from .helpers import api_login

pytestmark = pytest.mark.skipif(
    django.VERSION < (5, 1), reason="LoginRequiredMiddleware is Django 5.1+"
)

EMAIL = "anna@example.com"
#: The views only a logged-in person may see, by URL name.
FOR_PEOPLE_LOGGED_IN = {
    "kodmobi": {
        "logout",
        "step_up",
        "contacts",
        "contact_code",
        "contact_action",
        "passkey_offer",
        "passkey_register_options",
        "passkey_register",
        "passkey_remove",
        "logout_everywhere",
        "forget_browsers",
    },
    # The API's own permissions guard its views: a token is not a session.
    "kodmobi_api": set(),
}


def test_every_view_for_people_not_logged_in_is_open() -> None:
    from django_kodmobi import urls
    from django_kodmobi.api import urls as api_urls

    for module in (urls, api_urls):
        for pattern in module.urlpatterns:
            open_to_all = not getattr(pattern.callback, "login_required", True)
            expected = pattern.name not in FOR_PEOPLE_LOGGED_IN[module.app_name]
            assert open_to_all is expected, pattern.name


@override_settings(
    MIDDLEWARE=[
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
)
class TestLoginRequiredMiddleware(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.user = get_user_model().objects.create_user("anna", EMAIL)

    def test_a_login_by_pages(self) -> None:
        assert self.client.get(reverse("kodmobi:login")).status_code == HTTPStatus.OK
        started = self.client.post(reverse("kodmobi:login"), {"identifier": EMAIL})
        assert started["Location"] == reverse("kodmobi:code")
        assert self.client.get(reverse("kodmobi:code")).status_code == HTTPStatus.OK
        code = self.kodmobi_code(EMAIL)
        self.client.post(reverse("kodmobi:code"), {"code": code})
        assert self.client.session["_auth_user_id"] == str(self.user.pk)

    def test_a_login_through_the_api(self) -> None:
        api = APIClient()
        config = api.get(reverse("kodmobi_api:config"))
        assert config.status_code == HTTPStatus.OK, config.content
        api_login(api, EMAIL, self.kodmobi_code)
        assert api.get(reverse("kodmobi_api:session")).json()["user"]

    def test_the_pages_for_people_logged_in_still_ask_for_a_login(self) -> None:
        response = self.client.get(reverse("kodmobi:contacts"))
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith(reverse("kodmobi:login"))
