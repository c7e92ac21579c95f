"""django-otp and django-two-factor-auth on kod.mobi.

The device (``django_kodmobi.contrib.otp``) through django-otp's own
``OTPTokenForm``, and two-factor's phone method with the kod.mobi gateway.
Runs with ``--ds=tests.settings_otp`` where both are installed (the ``otp``
tox env and ``.ci/run``); skipped elsewhere.
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from django_kodmobi.conf import settings as kodmobi_settings
from django_kodmobi.masking import mask_for_display
from django_kodmobi.models import Contact, DeliveryStatus, ManualDelivery, OTPSession
from django_kodmobi.sandbox.faults import Fault, FaultKind
from django_kodmobi.services import start_login
from django_kodmobi.services.contacts import remove_contact
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import other_code

pytest.importorskip("django_otp")
pytest.importorskip("two_factor")
pytestmark = pytest.mark.skipif(
    not apps.is_installed("django_kodmobi.contrib.otp"),
    reason="needs tests.settings_otp",
)

PHONE, OTHER_PHONE = "+79991234567", "+79991234568"
_OFF = dict.fromkeys(settings.RATE_LIMIT_NAMES, "")


def otp_form(user: Any, **data: str) -> Any:
    from django_otp.forms import OTPTokenForm

    return OTPTokenForm(user, data=data)


def errors(form: Any) -> list[str]:
    form.is_valid()
    return [str(e) for e in form.non_field_errors()]


class DeviceTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        from django_kodmobi.contrib.otp.models import KodmobiDevice

        super().setUp()
        self.start = timezone.now()
        self.anna = get_user_model().objects.create_user("anna", password="pw")
        self.contact = Contact.objects.create(
            user=self.anna, kind="phone", value=PHONE, verified_at=self.start
        )
        self.device = KodmobiDevice.objects.for_contact(self.contact)

    def challenge(self) -> list[str]:
        return errors(
            otp_form(self.anna, otp_device=self.device.persistent_id, otp_challenge="1")
        )

    def answer(self, code: str) -> Any:
        form = otp_form(self.anna, otp_device=self.device.persistent_id, otp_token=code)
        form.is_valid()
        return form

    def code(self) -> str:
        code = self.kodmobi.last_code(PHONE)
        assert code is not None
        return code

    def wrong(self) -> str:
        code = self.code()
        return other_code(code)

    def test_the_second_factor_through_otp_token_form(self) -> None:
        assert self.challenge() == [
            f"OTP Challenge: Code sent by Telegram to {mask_for_display(PHONE)}."
        ]
        code = self.code()
        assert code is not None
        form = self.answer(code)
        assert form.is_valid(), form.errors
        assert self.anna.otp_device == self.device  # type: ignore[attr-defined]
        session = OTPSession.objects.get()
        assert (session.purpose, session.status, session.user) == (
            "second_factor",
            "consumed",
            self.anna,
        )
        assert dict(self.kodmobi.calls) == {"create": 1, "check": 1, "verify": 1}
        self.device.refresh_from_db()
        assert self.device.challenge is None and self.device.last_used_at is not None

    def test_each_user_has_a_send_allowance_of_its_own(self) -> None:
        """Challenges come with no client address: they used to share one
        site-wide bucket. Each device's user now counts apart."""
        from django_kodmobi.contrib.otp.models import KodmobiDevice

        rates = {"start_per_ip": "1/m", "sends_per_device": "1/h"}
        devices = [self.device]
        for n in range(1, 5):
            user = get_user_model().objects.create_user(f"user{n}")
            contact = Contact.objects.create(
                user=user, kind="phone", value=f"+7999123450{n}", verified_at=self.start
            )
            devices.append(KodmobiDevice.objects.for_contact(contact))
        with override_settings(
            KODMOBI={**settings.KODMOBI, "RATE_LIMITS": {**_OFF, **rates}}
        ):
            for device in devices:
                device.generate_challenge()  # none refused: one bucket each
            self.kodmobi.advance(181)
            with pytest.raises(Exception) as info:
                self.device.generate_challenge()  # its own allowance is spent
        assert "Too many attempts" in str(info.value)
        assert self.kodmobi.calls["create"] == 5
        keys = set(OTPSession.objects.values_list("device_key", flat=True))
        assert len(keys) == 5 and "" not in keys

    def test_a_parallel_check_that_won_is_not_a_failure_of_this_one(self) -> None:
        from unittest import mock

        from django_kodmobi.contrib.otp import models as otp_models
        from django_kodmobi.exceptions import Failure, VerificationError

        self.challenge()
        self.device.refresh_from_db()  # the form's copy sent the code
        used = VerificationError(Failure.ALREADY_USED)
        with mock.patch.object(otp_models, "check_code", side_effect=used):
            assert not self.device.verify_token(self.code())
        self.device.refresh_from_db()
        assert self.device.throttling_failure_count == 0
        with mock.patch.object(
            otp_models,
            "check_code",
            side_effect=VerificationError(Failure.INVALID_CODE),
        ):
            assert not self.device.verify_token(self.wrong())
        self.device.refresh_from_db()
        assert self.device.throttling_failure_count == 1

    def test_a_code_works_once(self) -> None:
        self.challenge()
        code = self.code()
        assert self.answer(code).is_valid()
        assert not self.answer(code).is_valid()
        assert self.kodmobi.calls["check"] == 1  # refused here, no second check

    def test_no_code_is_accepted_before_one_was_sent(self) -> None:
        assert errors(
            otp_form(
                self.anna, otp_device=self.device.persistent_id, otp_token="123456"
            )
        ) == ["Invalid token. Please make sure you have entered it correctly."]
        assert self.kodmobi.calls["check"] == 0

    def test_wrong_codes_are_throttled_here(self) -> None:
        self.challenge()
        assert not self.answer(self.wrong()).is_valid()
        self.device.refresh_from_db()
        assert self.device.throttling_failure_count == 1
        # Within a second of the wrong code even the right one is refused
        # here, without asking kod.mobi.
        refused = self.answer(self.code())
        assert "Verification temporarily disabled" in str(refused.errors)
        assert self.kodmobi.calls["check"] == 1
        with time_machine.travel(timezone.now() + timedelta(seconds=2)):
            assert self.answer(self.code()).is_valid()
        assert self.kodmobi.calls["check"] == 2
        self.device.refresh_from_db()  # a right code forgives the wrong one
        assert self.device.throttling_failure_count == 0

    def test_the_device_throttles_without_the_form(self) -> None:
        # django_otp.verify_token() and custom views call the device alone.
        from django_otp import verify_token

        self.challenge()
        assert verify_token(self.anna, self.device.persistent_id, self.wrong()) is None
        right = self.code()
        assert verify_token(self.anna, self.device.persistent_id, right) is None
        assert self.kodmobi.calls["check"] == 1
        with time_machine.travel(timezone.now() + timedelta(seconds=2)):
            assert verify_token(self.anna, self.device.persistent_id, right)

    @override_settings(KODMOBI={**settings.KODMOBI, "OTP_THROTTLE_FACTOR": 10})
    def test_the_throttle_factor_is_a_setting(self) -> None:
        self.challenge()
        self.answer(self.wrong())
        with time_machine.travel(timezone.now() + timedelta(seconds=5)):
            assert not self.answer(self.code()).is_valid()
        with time_machine.travel(timezone.now() + timedelta(seconds=11)):
            assert self.answer(self.code()).is_valid()

    def test_a_code_takes_max_attempts_checks(self) -> None:
        self.challenge()
        right = self.code()
        with time_machine.travel(timezone.now(), tick=False) as clock:
            for failures in range(kodmobi_settings.MAX_ATTEMPTS):
                clock.shift(2**failures)  # past the throttle each time
                assert not self.answer(self.wrong()).is_valid()
            clock.shift(60)
            assert not self.answer(right).is_valid()
        assert self.kodmobi.calls["check"] == kodmobi_settings.MAX_ATTEMPTS
        assert OTPSession.objects.get().status == "locked"

    def test_a_removed_contact_stops_the_device(self) -> None:
        self.challenge()
        code = self.code()
        remove_contact(self.anna, self.contact.pk)
        assert not self.answer(code).is_valid()
        assert self.kodmobi.calls["check"] == 0
        assert self.challenge() == [
            "Error generating challenge: This contact is no longer verified."
        ]
        assert self.kodmobi.calls["create"] == 1

    def test_a_contact_of_another_user_is_not_used(self) -> None:
        bob = get_user_model().objects.create_user("bob")
        self.device.user = bob
        self.device.save()
        from django_otp.forms import OTPTokenForm

        form = OTPTokenForm(
            bob, data={"otp_device": self.device.persistent_id, "otp_challenge": "1"}
        )
        assert "no longer verified" in str(form.errors)
        assert self.kodmobi.calls["create"] == 0

    def test_only_its_own_kind_of_flow_answers(self) -> None:
        login = start_login(PHONE).session  # a login flow, not a second factor
        OTPSession.objects.filter(pk=login.pk).update(user=self.anna)
        self.device.challenge = login
        self.device.save()
        assert not self.answer(self.code()).is_valid()
        self.challenge()
        other = OTPSession.objects.exclude(pk=login.pk).get()
        OTPSession.objects.filter(pk=other.pk).update(user=None)
        assert not self.answer(self.code()).is_valid()
        assert self.kodmobi.calls["check"] == 0

    def test_refusals_say_why_and_nothing_more(self) -> None:
        self.challenge()
        code = self.code()
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, frozenset({"create"})))
        assert self.challenge() == [
            "Error generating challenge: The code service is not answering "
            "right now. Try again in a minute."
        ]
        assert self.answer(code).is_valid()  # the first code still works

    def test_only_a_verified_contact_gets_a_device(self) -> None:
        from django_kodmobi.contrib.otp.models import KodmobiDevice

        pending = Contact.objects.create(
            user=self.anna, kind="phone", value=OTHER_PHONE
        )
        with pytest.raises(ValueError, match="verified contact"):
            KodmobiDevice.objects.for_contact(pending)
        assert KodmobiDevice.objects.for_contact(self.contact) == self.device
        assert self.device.name == "+7******4567"

    def test_the_admin_lists_devices(self) -> None:
        admin = get_user_model().objects.create_superuser("root", password="pw")
        self.client.force_login(admin)
        response = self.client.get("/admin/kodmobi_otp/kodmobidevice/")
        assert response.status_code == 200
        assert "+7******4567" in response.content.decode()
        assert PHONE.encode() not in response.content


class GatewayTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        from two_factor.plugins.phonenumber.models import PhoneDevice

        super().setUp()
        self.anna = get_user_model().objects.create_user("anna", password="pw")
        self.device = PhoneDevice.objects.create(
            user=self.anna, name="default", number=PHONE, method="sms"
        )

    def test_two_factors_code_is_delivered_by_kodmobi(self) -> None:
        self.device.generate_challenge()
        delivery = ManualDelivery.objects.get()
        assert (delivery.purpose, delivery.status) == (
            "two_factor",
            DeliveryStatus.SENT,
        )
        message = self.kodmobi.inbox.last(PHONE)
        assert message is not None and message.session_id is None  # manual flow
        assert self.device.verify_token(message.code)

    def test_a_reload_within_a_minute_does_not_send_again(self) -> None:
        with time_machine.travel(timezone.now(), tick=False) as clock:
            self.device.generate_challenge()
            first = self.kodmobi.inbox.last(PHONE)
            clock.shift(59)
            self.device.generate_challenge()
            assert self.kodmobi.calls["manual_send"] == 1
            assert first is not None and self.device.verify_token(first.code)
            clock.shift(2)
            self.device.generate_challenge()
            assert self.kodmobi.calls["manual_send"] == 2

    def test_only_a_two_factor_code_to_this_number_holds_the_next_back(
        self,
    ) -> None:
        from two_factor.plugins.phonenumber.models import PhoneDevice

        other = PhoneDevice.objects.create(
            user=self.anna, name="work", number="+79991234568", method="sms"
        )
        other.generate_challenge()  # another number
        ManualDelivery.objects.create(  # this number, for another purpose
            identifier=PHONE, channel="sms", purpose="allauth", status="sent"
        )
        self.device.generate_challenge()
        assert self.kodmobi.inbox.last(PHONE) is not None

    def test_a_number_kodmobi_cannot_take_is_logged(self) -> None:
        from types import SimpleNamespace

        from django_kodmobi.contrib.two_factor import KodmobiGateway

        device = SimpleNamespace(number=SimpleNamespace(as_e164="+7"))
        with self.assertLogs("django_kodmobi.contrib.two_factor", "WARNING") as logs:
            KodmobiGateway().send_sms(device, "123456")
        assert "invalid_identifier" in logs.output[0]

    def test_a_failed_delivery_does_not_hold_the_next_one_back(self) -> None:
        self.kodmobi.faults.add(
            Fault(FaultKind.ERROR, frozenset({"manual_send"}), times=1)
        )
        with self.assertLogs("django_kodmobi.contrib.two_factor", "WARNING") as logs:
            self.device.generate_challenge()  # logged, not raised
        assert ManualDelivery.objects.get().status == DeliveryStatus.FAILED
        assert PHONE not in "".join(logs.output)
        assert "+7******4567" in "".join(logs.output)
        self.device.generate_challenge()
        assert ManualDelivery.objects.filter(status=DeliveryStatus.SENT).count() == 1

    def test_a_refusal_is_logged_not_raised(self) -> None:
        with override_settings(KODMOBI={**settings.KODMOBI, "SMS_COUNTRIES": ["KZ"]}):
            self.kodmobi.project.set_reachable(PHONE, ["sms"])
            with self.assertLogs(
                "django_kodmobi.contrib.two_factor", "WARNING"
            ) as logs:
                self.device.generate_challenge()
        assert "channel_unavailable" in logs.output[0]
        assert self.kodmobi.inbox.last(PHONE) is None

    def test_kodmobi_makes_no_calls(self) -> None:
        from django_kodmobi.contrib.two_factor import KodmobiGateway

        with pytest.raises(ImproperlyConfigured):
            KodmobiGateway().make_call(self.device, "123456")


class MigrationTests(TestCase):
    def test_the_device_has_its_migrations(self) -> None:
        import io

        from django.core.management import call_command

        out = io.StringIO()
        call_command(
            "makemigrations", "kodmobi_otp", "--check", "--dry-run", stdout=out
        )
        assert "No changes detected" in out.getvalue()


def test_the_example_site_offers_two_factor_behind_a_setting(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "KODMOBI_EXAMPLE_TWO_FACTOR": "true",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    script = (
        "import django; django.setup();"
        "from django.core.management import call_command;"
        "call_command('check', fail_level='WARNING');"
        "call_command('migrate', verbosity=0);"
        "from django.test import Client;"
        "page = Client().get('/').content.decode();"
        "assert '/account/login/' in page, page;"
        "assert Client().get('/account/login/').status_code == 200"
    )
    subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], cwd=root, env=env, check=True
    )


class TwoFactorCheckTests(TestCase):
    def ids(self) -> list[str]:
        return [str(m.id) for m in run_checks()]

    def test_the_code_length_must_be_deliverable(self) -> None:
        assert "kodmobi.E012" not in self.ids()
        for digits in (3, 7, 8):
            with override_settings(TWO_FACTOR_TOTP_DIGITS=digits):
                assert "kodmobi.E012" in self.ids(), digits
        for digits in (4, 5):
            with override_settings(TWO_FACTOR_TOTP_DIGITS=digits):
                assert "kodmobi.E012" not in self.ids(), digits
        with override_settings(
            TWO_FACTOR_TOTP_DIGITS=8,
            TWO_FACTOR_SMS_GATEWAY="two_factor.gateways.fake.Fake",
        ):
            assert "kodmobi.E012" not in self.ids()  # not ours

    def test_kodmobi_is_no_call_gateway(self) -> None:
        assert "kodmobi.E013" not in self.ids()
        with override_settings(
            TWO_FACTOR_CALL_GATEWAY="django_kodmobi.contrib.two_factor.KodmobiGateway"
        ):
            assert "kodmobi.E013" in self.ids()
        with override_settings(TWO_FACTOR_CALL_GATEWAY="no.such.Gateway"):
            assert "kodmobi.E013" not in self.ids()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"
)
class DeviceRaceTests(KodMobiTestMixin, TransactionTestCase):
    def device_with_a_code(self) -> tuple[Any, str]:
        from django_kodmobi.contrib.otp.models import KodmobiDevice

        anna = get_user_model().objects.create_user("anna")
        contact = Contact.objects.create(
            user=anna, kind="phone", value=PHONE, verified_at=timezone.now()
        )
        device = KodmobiDevice.objects.for_contact(contact)
        device.generate_challenge()
        code = self.kodmobi.last_code(PHONE)
        assert code is not None
        return device, code

    def test_eight_checks_of_the_right_code_at_once_pass_one(self) -> None:
        from .test_concurrency import outcomes, race

        device, code = self.device_with_a_code()
        # Each caller its own copy, as separate requests would load it (no
        # row lock: django-otp's forms take one, a custom view may not).
        copies = [type(device).objects.get(pk=device.pk) for _ in range(8)]
        results = race([functools.partial(copy.verify_token, code) for copy in copies])
        assert outcomes(results) == Counter({"bool": 8})
        assert results.count(True) == 1
        assert OTPSession.objects.get().status == "consumed"
        device.refresh_from_db()  # the losers guessed nothing wrong
        assert (device.challenge, device.throttling_failure_count) == (None, 0)

    def test_wrong_codes_checked_at_once_all_count(self) -> None:
        from .test_concurrency import race

        device, code = self.device_with_a_code()
        wrong = other_code(code)
        copies = [type(device).objects.get(pk=device.pk) for _ in range(8)]
        assert (
            race([functools.partial(c.verify_token, wrong) for c in copies])
            == [False] * 8
        )
        device.refresh_from_db()
        assert device.throttling_failure_count == 8


class TrustedBrowserTests(KodMobiTestMixin, TestCase):
    """A browser trusted after a code skips the kod.mobi second factor at a
    password login (two-factor's login page here), until the trust ends."""

    def setUp(self) -> None:
        from django_kodmobi.contrib.otp.models import KodmobiDevice

        super().setUp()
        self.anna = get_user_model().objects.create_user("anna", password="pw")
        self.contact = Contact.objects.create(
            user=self.anna, kind="phone", value=PHONE, verified_at=timezone.now()
        )
        KodmobiDevice.objects.for_contact(self.contact)

    def trust_this_browser(self) -> None:
        self.client.force_login(self.anna)
        step_up = reverse("kodmobi:step_up")
        self.client.post(step_up, {"send": "1"})
        code = self.kodmobi_code(PHONE)
        self.client.post(step_up, {"code": code, "trust_browser": "1"})
        self.client.post("/logout/")

    def protected_after_password_login(self) -> int:
        self.client.post(
            reverse("two_factor:login"),
            {
                "login_view-current_step": "auth",
                "auth-username": "anna",
                "auth-password": "pw",
            },
        )
        assert "_auth_user_id" in self.client.session
        return int(self.client.get("/otp/protected/").status_code)

    def test_an_untrusted_browser_is_asked_for_the_code(self) -> None:
        assert self.protected_after_password_login() == 302

    def test_a_trusted_browser_skips_it_and_no_code_is_sent(self) -> None:
        self.trust_this_browser()
        sent = len(self.kodmobi_outbox())
        assert self.protected_after_password_login() == 200
        assert len(self.kodmobi_outbox()) == sent

    def test_a_removed_contact_ends_the_trust(self) -> None:
        self.trust_this_browser()
        remove_contact(self.anna, self.contact.pk)
        assert self.protected_after_password_login() == 302

    def test_a_new_password_ends_the_trust(self) -> None:
        self.trust_this_browser()
        self.anna.set_password("pw")  # the same words, a new hash
        self.anna.save()
        assert self.protected_after_password_login() == 302

    def test_a_device_whose_contact_is_no_longer_verified_verifies_nothing(
        self,
    ) -> None:
        self.trust_this_browser()
        # Not removed (the trust stays), only unverified, say by the admin.
        Contact.objects.filter(pk=self.contact.pk).update(verified_at=None)
        assert self.protected_after_password_login() == 302
