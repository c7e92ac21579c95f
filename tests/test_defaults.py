"""A documented default is a rule: the README's tables are the defaults.

The suite's settings switch every rate limit off and set their own, so the
shipped security posture is pinned here twice: each default as the README
states it, and the defaults at work (only the sandbox and the keys set).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core import checks
from django.test import TestCase, override_settings

from django_kodmobi import conf, guards
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import IdentifierKind
from django_kodmobi.services import ClientInfo, start_login
from django_kodmobi.testing import KodMobiTestMixin

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _table_rows(heading_row: str) -> dict[str, str]:
    """The first two columns of the README table whose header row starts
    with ``heading_row``: ``{key: default}``, backticks dropped."""
    start = README.index(heading_row)
    rows: dict[str, str] = {}
    for line in README[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1]
    return rows


def _literal(text: str) -> Any:
    return ast.literal_eval(text.strip("`"))


class ReadmeTablesTests(TestCase):
    def test_the_settings_table_lists_every_setting_with_its_default(self) -> None:
        rows = _table_rows("| key | default | meaning |")
        assert set(rows) == set(conf.DEFAULTS)
        for key, default in conf.DEFAULTS.items():
            if key == "RATE_LIMITS":
                assert rows[key] == "see [Security](#security)"
                continue
            with self.subTest(key):
                documented = _literal(rows[key])
                if isinstance(default, tuple):
                    documented = tuple(
                        tuple(x) if isinstance(x, list) else x for x in documented
                    )
                assert documented == default

    def test_the_rate_limits_table_is_the_default_rate_limits(self) -> None:
        rows = _table_rows("| limit | counts | default |")
        documented = {
            name: re.sub(r"`", "", line.split("|")[-2].strip())
            for name, line in (
                (
                    name,
                    next(x for x in README.splitlines() if x.startswith(f"| `{name}`")),
                )
                for name in rows
            )
        }
        assert documented == conf.DEFAULTS["RATE_LIMITS"]


#: Only what a site must set: the sandbox, the keys, a user lookup.
SHIPPED = {
    "SANDBOX": settings.KODMOBI["SANDBOX"],
    "PUBLIC_KEY": "test-public-key",
    "SECRET_KEY": "test-secret-key",
    "USER_RESOLVER": settings.KODMOBI["USER_RESOLVER"],
}
PHONE = "+79991234567"


@override_settings(KODMOBI=SHIPPED)
class ShippedPostureTests(KodMobiTestMixin, TestCase):
    """The defaults at work."""

    def test_five_starts_per_identifier_from_one_address_in_ten_minutes(self) -> None:
        client = ClientInfo("203.0.113.9", "curl")
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            for _ in range(5):
                start_login(PHONE, client=client)
            with pytest.raises(VerificationError) as info:
                start_login(PHONE, client=client)
            assert info.value.reason is Failure.RATE_LIMITED
            assert info.value.retry_after == 600
            clock.shift(600)
            start_login(PHONE, client=client)

    def test_start_per_ip_holds_a_daily_rate(self) -> None:
        from django_kodmobi.limits import parse_rates

        rates = parse_rates(conf.settings.RATE_LIMITS["start_per_ip"])
        assert [(r.count, r.seconds) for r in rates] == [
            (20, 60),
            (60, 3600),
            (200, 86400),
        ]

    def test_the_rates_at_work(self) -> None:
        from django_kodmobi import limits

        cases = {
            "verify_per_ip": (30, 60),
            "sends_global": (1000, 3600),
            "sends_per_identifier": (10, 3600),
            "sends_per_device": (10, 3600),
            "complete_per_ip": (10, 60),
        }
        for name, (count, seconds) in cases.items():
            with (
                self.subTest(name),
                time_machine.travel("2026-11-28 10:00Z", tick=False),
            ):
                for _ in range(count):
                    limits.check_rate(name, f"value-for-{name}")
                with pytest.raises(VerificationError) as info:
                    limits.check_rate(name, f"value-for-{name}")
                assert info.value.retry_after == seconds

    def test_the_hard_cap_is_100_and_lasts_a_day(self) -> None:
        assert (conf.settings.MAX_FAILURES, conf.settings.FAILURE_LOCK_SECONDS) == (
            100,
            86400,
        )
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            for n in range(100):
                guards.record_failure(PHONE, f"203.0.113.{n % 250}")
            with pytest.raises(VerificationError) as info:
                guards.check_streak(PHONE, "198.51.100.1")
            assert info.value.retry_after == 86400
            clock.shift(86400)
            guards.check_streak(PHONE, "198.51.100.1")

    def test_the_cool_down_tiers(self) -> None:
        assert conf.settings.FAILURE_COOLDOWNS == (
            (10, 900),
            (20, 7200),
            (40, 86400),
        )

    def test_no_sms_anywhere_until_named(self) -> None:
        with pytest.raises(VerificationError) as info:
            guards.check_destination(PHONE, IdentifierKind.PHONE, "sms")
        assert info.value.reason is Failure.CHANNEL_UNAVAILABLE
        # Left to kod.mobi, a phone is sent its messenger, never SMS.
        assert guards.check_destination(PHONE, IdentifierKind.PHONE, None) == "telegram"

    def test_numbers_that_are_no_persons_mobile_get_no_code(self) -> None:
        import phonenumbers

        kinds = phonenumbers.PhoneNumberType
        for name in (
            "PREMIUM_RATE",
            "SHARED_COST",
            "TOLL_FREE",
            "PAGER",
            "VOICEMAIL",
            "PERSONAL_NUMBER",
            "UAN",
            "VOIP",
        ):
            example = _example_of(getattr(kinds, name))
            with self.subTest(name):
                assert example is not None, f"libphonenumber has no {name} example"
                with pytest.raises(VerificationError) as info:
                    guards.check_destination(example, IdentifierKind.PHONE, None)
                assert info.value.reason is Failure.INVALID_IDENTIFIER
        mobile = _example_of(kinds.MOBILE)
        assert mobile is not None
        guards.check_destination(mobile, IdentifierKind.PHONE, None)

    def test_ipv6_is_counted_per_64(self) -> None:
        assert conf.settings.IPV6_PREFIX == 64

    def test_devices_are_trusted_for_180_days(self) -> None:
        assert conf.settings.DEVICE_TRUST_DAYS == 180

    def test_a_browser_its_owner_trusts_is_trusted_for_14_days(self) -> None:
        assert conf.settings.TRUST_BROWSER_DAYS == 14

    def test_a_missing_backend_is_an_error_not_a_warning(self) -> None:
        with override_settings(
            AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"]
        ):
            found = [m for m in checks.run_checks() if m.id == "kodmobi.E005"]
        assert found and all(m.level == checks.ERROR for m in found)


def _example_of(kind: int) -> str | None:
    """An E.164 example number of ``kind`` from any region libphonenumber
    has one for."""
    import phonenumbers

    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number_for_type(region, kind)
        if number is not None:
            return phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164
            )
    return None
