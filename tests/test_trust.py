"""Trusted browsers: after a code, step-up is skipped on a browser its owner
trusts, for TRUST_BROWSER_DAYS, until the trust is revoked. Each way it is
revoked has its test here; the second factor's is in tests/test_otp.py."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import time_machine
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.checks import run_checks
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from django_kodmobi.models import Contact, TrustedBrowser, TrustEnd
from django_kodmobi.services import trust
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import step_up
from .test_api import kodmobi, url

User = get_user_model()
EMAIL, PHONE = "anna@example.com", "+79991234567"
STEP_UP = reverse("kodmobi:step_up")
START = "2026-11-28 10:00Z"
#: STEP_UP_MAX_AGE has passed: only trust lets a guarded view through.
LATER = 301


class TrustTestCase(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.anna = User.objects.create_user("anna", EMAIL)
        self.anna.set_unusable_password()
        self.anna.save()

    def step_up_on_the_page(self, *, trust_it: bool = True, to: str = EMAIL) -> Any:
        self.client.post(STEP_UP, {"send": "1", "next": "/sensitive/"})
        answer = {"code": self.kodmobi_code(to), "next": "/sensitive/"}
        if trust_it:
            answer["trust_browser"] = "1"
        return self.client.post(STEP_UP, answer)

    def trusted_and_later(self, clock: Any) -> None:
        """Anna trusted this browser on the step-up page; her step-up is old."""
        self.client.force_login(self.anna)
        self.step_up_on_the_page()
        clock.shift(LATER)

    def sensitive(self) -> int:
        return int(self.client.get("/sensitive/").status_code)

    def row(self) -> TrustedBrowser:
        return TrustedBrowser.objects.get(user=self.anna)


class StepUpSkippedTests(TrustTestCase):
    def test_a_trusted_browser_skips_step_up_until_the_trust_ends(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            assert self.sensitive() == HTTPStatus.OK
            clock.shift(14 * 86400 - LATER - 1)
            assert self.sensitive() == HTTPStatus.OK
            clock.shift(1)
            assert self.sensitive() == HTTPStatus.FOUND
        cookie = self.client.cookies[trust.COOKIE_NAME]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
        assert cookie["max-age"] == 14 * 86400

    def test_without_the_tick_nothing_is_trusted(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.client.force_login(self.anna)
            self.step_up_on_the_page(trust_it=False)
            clock.shift(LATER)
            assert self.sensitive() == HTTPStatus.FOUND
        assert not TrustedBrowser.objects.exists()
        assert trust.COOKIE_NAME not in self.client.cookies

    def test_a_view_may_ask_a_code_of_trusted_browsers_too(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            assert self.client.get("/sensitive-strict/").status_code == HTTPStatus.FOUND
            assert self.sensitive() == HTTPStatus.OK

    def test_the_mixin_and_the_permission_skip_it_too(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            assert self.client.get("/sensitive-view/").status_code == HTTPStatus.OK
            assert self.client.get("/sensitive-api/").status_code == HTTPStatus.OK

    def test_a_login_by_code_may_trust_the_browser(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.client.post(reverse("kodmobi:login"), {"identifier": EMAIL})
            page = self.client.get(reverse("kodmobi:code")).content.decode()
            assert 'name="trust_browser"' in page
            assert "Trust this browser for 14 days" in page
            self.client.post(
                reverse("kodmobi:code"),
                {"code": self.kodmobi_code(EMAIL), "trust_browser": "1"},
            )
            clock.shift(LATER)
            assert self.sensitive() == HTTPStatus.OK

    def test_trust_is_for_the_user_who_gave_it(self) -> None:
        bob = User.objects.create_user("bob", "bob@example.com")
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            self.client.force_login(bob)  # the cookie stays; bob's session
            assert self.sensitive() == HTTPStatus.FOUND
            # Bob's try cost Anna nothing: her trust holds.
            self.client.force_login(self.anna)
            assert self.sensitive() == HTTPStatus.OK
        assert self.row().revoked_at is None

    def test_a_cookie_made_without_the_secret_key_is_nothing(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            good = signing.loads(
                self.client.cookies[trust.COOKIE_NAME].value,
                salt="django_kodmobi.trust",
            )
            with override_settings(SECRET_KEY="another key"):
                forged = signing.dumps(good, salt="django_kodmobi.trust")
            self.client.cookies[trust.COOKIE_NAME] = forged
            assert self.sensitive() == HTTPStatus.FOUND

    def test_the_table_holds_no_secret_a_cookie_could_be_made_of(self) -> None:
        with time_machine.travel(START, tick=False):
            self.client.force_login(self.anna)
            self.step_up_on_the_page()
        secret = signing.loads(
            self.client.cookies[trust.COOKIE_NAME].value, salt="django_kodmobi.trust"
        )["s"]
        row = TrustedBrowser.objects.values().get()
        assert all(secret not in str(value) for value in row.values())

    def test_trusting_again_replaces_this_browsers_trust(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            self.step_up_on_the_page()
        ended, active = TrustedBrowser.objects.order_by("created_at", "revoked_at")
        assert ended.revoked_reason == TrustEnd.REPLACED
        assert active.revoked_at is None

    def test_an_app_token_never_rides_on_a_browser_trust(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            response = self.client.get(
                "/sensitive/", HTTP_AUTHORIZATION="Token something"
            )
            assert response.status_code == HTTPStatus.FOUND


class SettingTests(TrustTestCase):
    @override_settings(KODMOBI=kodmobi(TRUST_BROWSER_DAYS=0))
    def test_zero_days_offers_no_trust_and_takes_none(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.client.force_login(self.anna)
            self.client.post(STEP_UP, {"send": "1"})
            page = self.client.get(STEP_UP).content.decode()
            assert 'name="trust_browser"' not in page
            self.step_up_on_the_page()
            clock.shift(LATER)
            assert self.sensitive() == HTTPStatus.FOUND
        assert not TrustedBrowser.objects.exists()

    @override_settings(KODMOBI=kodmobi(TRUST_BROWSER_DAYS=2))
    def test_the_days_are_a_setting(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            clock.shift(2 * 86400 - LATER)
            assert self.sensitive() == HTTPStatus.FOUND


class RevocationTests(TrustTestCase):
    def test_forgetting_the_browsers(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            page = self.client.get(reverse("kodmobi:contacts")).content.decode()
            assert 'data-kodmobi-trusted="1"' in page
            self.client.post(reverse("kodmobi:forget_browsers"))
            assert self.sensitive() == HTTPStatus.FOUND
        row = self.row()
        assert (row.revoked_reason, row.revoked_at) == (
            TrustEnd.FORGOTTEN,
            row.revoked_at,
        )
        assert row.revoked_at is not None

    def test_logging_out_everywhere(self) -> None:
        other = self.client_class()
        with time_machine.travel(START, tick=False) as clock:
            other.force_login(self.anna)  # another browser, same account
            self.trusted_and_later(clock)
            response = self.client.post(reverse("kodmobi:logout_everywhere"))
            assert response.status_code == HTTPStatus.FOUND
            assert "_auth_user_id" not in self.client.session
            # The other browser's session no longer holds: it is logged out.
            assert (
                other.get(reverse("kodmobi:contacts")).status_code == HTTPStatus.FOUND
            )
            # Logged in again, the old trust does not come back.
            self.client.force_login(self.anna)
            assert self.sensitive() == HTTPStatus.FOUND
        assert self.row().revoked_reason == TrustEnd.LOGGED_OUT_EVERYWHERE

    def test_logging_out_everywhere_with_a_password_says_what_stays(self) -> None:
        self.anna.set_password("a long passphrase")
        self.anna.save()
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            response = self.client.post(
                reverse("kodmobi:logout_everywhere"), follow=True
            )
        assert "until your password changes" in response.content.decode()
        assert self.row().revoked_reason == TrustEnd.LOGGED_OUT_EVERYWHERE

    def test_a_new_password(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            self.anna.set_password("a new passphrase")
            self.anna.save()
            assert self.row().revoked_reason == TrustEnd.PASSWORD_CHANGED
            self.client.force_login(self.anna)
            assert self.sensitive() == HTTPStatus.FOUND

    def test_a_new_password_written_where_no_signal_sees_it(self) -> None:
        with time_machine.travel(START, tick=False) as clock:
            self.trusted_and_later(clock)
            User.objects.filter(pk=self.anna.pk).update(password="!another")
            self.client.force_login(User.objects.get(pk=self.anna.pk))
            assert self.sensitive() == HTTPStatus.FOUND
        assert self.row().revoked_reason == TrustEnd.PASSWORD_CHANGED

    def test_a_removed_contact(self) -> None:
        phone = Contact.objects.create(user=self.anna, kind="phone", value=PHONE)
        with time_machine.travel(START, tick=False) as clock:
            Contact.objects.filter(pk=phone.pk).update(verified_at=timezone.now())
            self.client.force_login(self.anna)
            self.step_up_on_the_page(to=PHONE)  # the step-up code goes there
            clock.shift(LATER)
            refused = self.client.post(
                reverse("kodmobi:contact_action", args=[phone.pk]),
                {"action": "remove"},
            )
            # Removing a contact asks for a fresh code, trust or not.
            assert refused["Location"].startswith(STEP_UP)
            step_up(self.client, self.anna)
            self.client.post(
                reverse("kodmobi:contact_action", args=[phone.pk]),
                {"action": "remove"},
            )
            clock.shift(LATER)
            assert self.sensitive() == HTTPStatus.FOUND
        assert self.row().revoked_reason == TrustEnd.CONTACT_REMOVED

    def test_other_users_trust_is_left_alone(self) -> None:
        bob = User.objects.create_user("bob", "bob@example.com")
        TrustedBrowser.objects.create(
            id="00000000-0000-0000-0000-000000000001",
            user=bob,
            password_digest="x",
            expires_at="2030-01-01T00:00Z",
        )
        trust.revoke_trust(self.anna.pk, TrustEnd.FORGOTTEN)
        assert TrustedBrowser.objects.get(user=bob).revoked_at is None


class APITests(TrustTestCase):
    def test_step_up_verify_may_trust_the_browser(self) -> None:
        api = APIClient()
        with time_machine.travel(START, tick=False) as clock:
            api.force_login(self.anna)
            flow = api.post(url("step_up"), {}, format="json").json()["flow"]
            done = api.post(
                url("step_up_verify"),
                {"flow": flow, "code": self.kodmobi_code(EMAIL), "trust_browser": True},
                format="json",
            )
            assert done.status_code == HTTPStatus.NO_CONTENT
            assert trust.COOKIE_NAME in done.cookies
            clock.shift(LATER)
            assert api.get("/sensitive-api/").status_code == HTTPStatus.OK

    @override_settings(KODMOBI=kodmobi(API_LOGIN="token"))
    def test_an_app_token_is_never_trusted(self) -> None:
        token = Token.objects.create(user=self.anna)
        api = APIClient()
        headers = {"Authorization": f"Token {token.key}"}
        flow = api.post(url("step_up"), {}, format="json", headers=headers).json()
        done = api.post(
            url("step_up_verify"),
            {
                "flow": flow["flow"],
                "code": self.kodmobi_code(EMAIL),
                "trust_browser": True,
            },
            format="json",
            headers=headers,
        )
        assert done.status_code == HTTPStatus.NO_CONTENT
        assert trust.COOKIE_NAME not in done.cookies
        assert not TrustedBrowser.objects.exists()


class CheckTests(TestCase):
    def test_the_days_are_zero_or_more(self) -> None:
        for days, errors in ((0, 0), (1, 0), (-1, 1), ("14", 1)):
            with override_settings(KODMOBI=kodmobi(TRUST_BROWSER_DAYS=days)):
                found = [m for m in run_checks() if m.id == "kodmobi.E003"]
            assert len(found) == errors, days
