"""Limits that cannot be aimed at the people they protect (OWASP device
cookies): a browser or app that logged in as a phone or email keeps its own
budgets while strangers are locked out, and every lock ends by itself."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client, TestCase, override_settings
from django.urls import reverse

from django_kodmobi import devices, guards
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import FailureStreak, OTPSession, Status
from django_kodmobi.services import (
    ClientInfo,
    resend_code,
    start_login,
)
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import limits, other_code
from .test_guessing import GuessTestCase

PHONE = "+79991234567"
EMAIL = "anna@example.com"
OTHER_PHONE = "+79990000001"
OWNER_IP = "198.51.100.7"


def attacker(number: int) -> ClientInfo:
    return ClientInfo(f"203.0.113.{number}", "curl")


def owners_device(identifier: str = PHONE) -> ClientInfo:
    """The browser the owner logged in from before."""
    return ClientInfo(OWNER_IP, "Firefox", device_token=devices.issue(identifier))


class DeviceTokenTests(TestCase):
    def test_a_token_vouches_for_the_identifier_it_was_issued_for(self) -> None:
        token = devices.issue(PHONE)
        assert devices.device_key(token, PHONE)
        assert devices.device_key(token, OTHER_PHONE) == ""

    def test_a_forged_or_foreign_token_vouches_for_nobody(self) -> None:
        token = devices.issue(PHONE)
        payload = signing.loads(token, salt="django_kodmobi.devices")
        for forged in (
            token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
            signing.dumps(payload, salt="another.salt"),
            signing.dumps(
                payload, key="not-the-secret-key", salt="django_kodmobi.devices"
            ),
            signing.dumps({"d": "not a dict"}, salt="django_kodmobi.devices"),
            signing.dumps({"d": {"x": ["id", "when"]}}, salt="django_kodmobi.devices"),
            "x" * 3000,
            "",
        ):
            assert devices.device_key(forged, PHONE) == ""

    def test_trust_ends_after_device_trust_days(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            token = devices.issue(PHONE)
            clock.shift(180 * 86400)
            assert devices.device_key(token, PHONE)
            clock.shift(1)
            assert devices.device_key(token, PHONE) == ""

    def test_one_browser_holds_five_accounts_and_drops_the_oldest(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            token = ""
            phones = [f"+7999000000{n}" for n in range(6)]
            for phone in phones:
                token = devices.issue(phone, token)
                clock.shift(1)
            assert [bool(devices.device_key(token, p)) for p in phones] == [
                False,
                *[True] * 5,
            ]

    def test_each_login_issues_a_new_device_id(self) -> None:
        first = devices.issue(PHONE)
        again = devices.issue(PHONE, first)
        assert devices.device_key(first, PHONE) != devices.device_key(again, PHONE)

    def test_the_token_holds_no_phone_in_clear(self) -> None:
        token = devices.issue(PHONE)
        payload = str(signing.loads(token, salt="django_kodmobi.devices"))
        assert PHONE not in payload and PHONE[1:] not in payload


class PageCookieTests(KodMobiTestMixin, TestCase):
    def page_login(self, identifier: str) -> tuple[Client, Any]:
        """A login through the pages; the browser and the code page's reply."""
        browser = Client()
        browser.post(reverse("kodmobi:login"), {"identifier": identifier})
        response = browser.post(
            reverse("kodmobi:code"), {"code": self.kodmobi_code(identifier)}
        )
        return browser, response

    def test_a_page_login_makes_the_browser_trusted_for_the_address(self) -> None:
        get_user_model().objects.create_user("anna", EMAIL)
        browser, response = self.page_login(EMAIL)
        assert response.status_code == HTTPStatus.FOUND
        cookie = response.cookies[devices.COOKIE_NAME]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
        assert int(cookie["max-age"]) == 180 * 86400
        assert devices.device_key(cookie.value, EMAIL)
        # The next start from this browser comes from a trusted device.
        browser.post(reverse("kodmobi:logout"))
        self.kodmobi.advance(181)
        browser.post(reverse("kodmobi:login"), {"identifier": EMAIL})
        assert OTPSession.objects.order_by("-created_at").first().device_key  # type: ignore[union-attr]

    @override_settings(SESSION_COOKIE_SECURE=True)
    def test_the_cookie_is_secure_where_the_session_cookie_is(self) -> None:
        get_user_model().objects.create_user("anna", EMAIL)
        _browser, response = self.page_login(EMAIL)
        assert response.cookies[devices.COOKIE_NAME]["secure"]

    def test_a_refused_login_is_no_trust(self) -> None:
        _browser, response = self.page_login(PHONE)  # no account for PHONE
        assert devices.COOKIE_NAME not in response.cookies


class StrangersCannotLockTheOwnerOut(GuessTestCase):
    """Defect 1: wrong codes from anywhere used to stop code logins for good
    (kod.mobi's own blocks are lenient here: the app's rules are tested)."""

    def wrong_codes(self, addresses: int, each: int) -> int:
        """Try ``each`` wrong codes from each of ``addresses`` addresses, as
        far as the limits let them; return how many were checked."""
        checked = 0
        for number in range(1, addresses + 1):
            client = attacker(number)
            for _ in range(each):
                try:
                    flow = start_login(PHONE, client=client)
                except VerificationError:
                    break  # locked out: strangers get no further
                wrong = other_code(self.kodmobi_code(PHONE))
                if self.guess(flow, wrong, str(client.ip)) is Failure.INVALID_CODE:
                    checked += 1
                OTPSession.objects.filter(pk=flow.session.pk).update(
                    status=Status.EXPIRED
                )
                self.kodmobi.advance(181)
        return checked

    def test_125_wrong_codes_from_25_addresses_leave_the_owners_browser(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            assert self.wrong_codes(addresses=25, each=5) == 100  # MAX_FAILURES
            assert (
                FailureStreak.objects.get(pk=guards.streak_key(PHONE)).failures == 100
            )
            # A browser the phone does not trust is locked, and told how long.
            with pytest.raises(VerificationError) as info:
                start_login(PHONE, client=ClientInfo(OWNER_IP, "a new browser"))
            assert info.value.reason is Failure.TOO_MANY_FAILURES
            assert info.value.retry_after == 24 * 3600
            # The owner's earlier browser logs in.
            sent = len(self.kodmobi.inbox.messages(PHONE))
            flow = start_login(PHONE, client=owners_device())
            assert len(self.kodmobi.inbox.messages(PHONE)) == sent + 1
            assert self.guess(flow, self.kodmobi_code(PHONE), OWNER_IP) is None
            # The right code cleared the streaks; the lock is gone for all.
            assert not FailureStreak.objects.exists()
            clock.shift(1)
            start_login(PHONE, client=ClientInfo(OWNER_IP, "a new browser"))

    def test_a_trusted_devices_wrong_codes_count_on_its_own_streak(self) -> None:
        device = owners_device()
        with time_machine.travel("2026-11-28 10:00Z", tick=False):
            flow = start_login(PHONE, client=device)
            assert flow.session.device_key
            for _ in range(3):
                self.guess(flow, other_code(self.kodmobi_code(PHONE)), OWNER_IP)
            own = FailureStreak.objects.filter(pk=guards.streak_key(PHONE))
            assert not own.exists(), "not on the identifier's shared streak"
            assert FailureStreak.objects.get().failures == 3

    @override_settings(KODMOBI={**settings.KODMOBI, "FAILURE_COOLDOWNS": ((3, 900),)})
    def test_a_trusted_device_is_paused_on_its_own(self) -> None:
        device = owners_device()
        with time_machine.travel("2026-11-28 10:00Z", tick=False):
            flow = start_login(PHONE, client=device)
            for _ in range(3):
                self.guess(flow, other_code(self.kodmobi_code(PHONE)), OWNER_IP)
            with pytest.raises(VerificationError) as info:
                start_login(PHONE, client=device)
            assert (info.value.reason, info.value.retry_after) == (
                Failure.TOO_MANY_FAILURES,
                900,
            )
            # From the same address, a browser without the token is not
            # paused by the device's streak.
            start_login(PHONE, client=ClientInfo(OWNER_IP, "another browser"))

    def test_a_device_token_for_another_phone_is_no_trust(self) -> None:
        flow = start_login(PHONE, client=owners_device(OTHER_PHONE))
        assert flow.session.device_key == ""


class SendAllowanceTests(KodMobiTestMixin, TestCase):
    """Defect 2: other people's starts used up the victim's sends."""

    @limits(sends_per_identifier="2/h", sends_per_device="2/h")
    def test_strangers_cannot_use_up_the_owners_device_allowance(self) -> None:
        for number in (1, 2):
            start_login(PHONE, client=attacker(number))
            self.kodmobi.advance(181)  # no live code to join: a real send
        with pytest.raises(VerificationError) as info:
            start_login(PHONE, client=ClientInfo(OWNER_IP, "a new browser"))
        assert info.value.reason is Failure.RATE_LIMITED
        sent = len(self.kodmobi.inbox.messages(PHONE))
        start_login(PHONE, client=owners_device())
        assert len(self.kodmobi.inbox.messages(PHONE)) == sent + 1

    @limits(sends_per_identifier="2/h")
    def test_a_start_that_joins_a_live_code_gives_its_send_back(self) -> None:
        start_login(PHONE, client=ClientInfo(OWNER_IP, "Firefox"))
        for number in range(1, 6):
            start_login(PHONE, client=attacker(number))  # joins: sends nothing
        assert len(self.kodmobi.inbox.messages(PHONE)) == 1
        self.kodmobi.advance(181)
        start_login(PHONE, client=ClientInfo(OWNER_IP, "Firefox"))
        assert len(self.kodmobi.inbox.messages(PHONE)) == 2

    @limits(sends_per_identifier="1/h")
    def test_a_start_that_sends_nothing_counts_as_a_send(self) -> None:
        start_login(PHONE, send=False, client=attacker(1))
        self.kodmobi.advance(181)
        with pytest.raises(VerificationError) as info:
            start_login(PHONE, client=attacker(2))
        assert info.value.reason is Failure.RATE_LIMITED

    @limits(sends_per_identifier="1/h")
    def test_its_first_send_is_not_counted_twice(self) -> None:
        flow = start_login(PHONE, send=False, client=attacker(1))
        resend_code(flow.session.pk, flow.token, "sms")
        assert len(self.kodmobi.inbox.messages(PHONE)) == 1

    @limits(sends_per_identifier="1/h", sends_per_device="1/h")
    def test_a_step_up_has_the_users_own_allowance(self) -> None:
        from django.contrib.auth import get_user_model

        from django_kodmobi.models import Contact
        from django_kodmobi.services.step_up import start_step_up

        user = get_user_model().objects.create_user("anna")
        Contact.objects.create(
            user=user, kind="phone", value=PHONE, verified_at="2026-01-01T00:00Z"
        )
        start_login(PHONE, client=attacker(1))
        self.kodmobi.advance(181)
        flow = start_step_up(user)
        assert flow.session.device_key == devices.user_device_key(user.pk)


class IPv6Tests(KodMobiTestMixin, TestCase):
    """Defect 6: each IPv6 address of one host counted apart."""

    def start_from(self, ip: str) -> int:
        from rest_framework.test import APIClient

        api = APIClient(REMOTE_ADDR=ip)
        response = api.post(
            reverse("kodmobi_api:start"), {"identifier": PHONE}, format="json"
        )
        self.kodmobi.advance(181)
        return response.status_code

    @limits(start_per_ip="3/m")
    def test_ten_addresses_of_one_64_share_one_addresss_limit(self) -> None:
        codes = [self.start_from(f"2001:db8:1:2::{n:x}") for n in range(1, 11)]
        assert codes == [HTTPStatus.CREATED] * 3 + [HTTPStatus.TOO_MANY_REQUESTS] * 7
        assert self.start_from("2001:db8:1:3::1") == HTTPStatus.CREATED

    @override_settings(
        KODMOBI={
            **settings.KODMOBI,
            "IPV6_PREFIX": 48,
            "RATE_LIMITS": {"start_per_ip": "1/m"},
        }
    )
    def test_the_prefix_is_a_setting(self) -> None:
        assert self.start_from("2001:db8:1:2::1") == HTTPStatus.CREATED
        assert self.start_from("2001:db8:1:3::1") == HTTPStatus.TOO_MANY_REQUESTS

    def test_address_keys(self) -> None:
        from django_kodmobi.limits import address_key

        assert address_key("2001:db8::1") == "2001:db8::/64"
        assert address_key("2001:db8::ffff:1") == "2001:db8::/64"
        assert address_key("::ffff:203.0.113.5") == "203.0.113.5"
        assert address_key("203.0.113.5") == "203.0.113.5"
        assert address_key(None) is None
        assert address_key("not an address") == "not an address"

    @override_settings(KODMOBI={**settings.KODMOBI, "FAILURE_COOLDOWNS": ((1, 60),)})
    def test_a_pause_covers_the_whole_64(self) -> None:
        guards.record_failure(PHONE, "2001:db8::1")
        with pytest.raises(VerificationError):
            guards.check_streak(PHONE, "2001:db8::beef")
        guards.check_streak(PHONE, "2001:db8:0:1::1")  # another /64
