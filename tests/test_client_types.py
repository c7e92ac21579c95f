"""Reply parsing details the endpoint tests do not reach."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from django_kodmobi.client import (
    Channel,
    KodMobiResponseError,
    ManualMessage,
    SessionChannel,
    Verification,
)
from django_kodmobi.client.types import parse_datetime
from django_kodmobi.masking import mask_email, mask_identifier, mask_phone


class TestDatetimes:
    @pytest.mark.parametrize(
        "text",
        [
            "2025-10-28T09:22:48.950Z",
            "2025-10-28T09:22:48.950z",
            "2025-10-28T09:22:48.950+00:00",
            "2025-10-28T12:22:48.950+03:00",
        ],
    )
    def test_any_offset_becomes_utc(self, text: str) -> None:
        assert parse_datetime(text) == datetime(
            2025, 10, 28, 9, 22, 48, 950000, tzinfo=timezone.utc
        )


class TestChannels:
    def test_name_falls_back_to_type_and_unknown_types_pass(self) -> None:
        channel = SessionChannel.from_payload(
            {"type": "viber", "is_active": True, "timeout": 12.7, "extra": 1}
        )
        assert (channel.name, channel.type, channel.timeout) == ("viber", "viber", 12)
        assert channel.raw["extra"] == 1
        assert channel.image_url == channel.link == channel.description == ""

    def test_negative_timeout_is_zero(self) -> None:
        channel = SessionChannel.from_payload(
            {"type": "sms", "is_active": False, "timeout": -3}
        )
        assert channel.timeout == 0

    def test_enum_compares_as_string(self) -> None:
        assert isinstance(Channel.SMS, str) and Channel("sms") is Channel.SMS
        assert str(Channel.TELEGRAM) == "telegram"


class TestVerification:
    def test_v1_envelope_and_phone_field(self) -> None:
        verification = Verification.from_payload(
            {"success": True, "data": {"phone": " +79991234567 "}}
        )
        assert verification.destination == "+79991234567"
        assert verification.session_id == ""

    def test_email_field(self) -> None:
        assert Verification.from_payload({"email": "a@b.co"}).destination == "a@b.co"

    def test_not_an_object(self) -> None:
        with pytest.raises(KodMobiResponseError):
            Verification.from_payload(["+79991234567"])


class TestManualMessage:
    def test_one_element_array_is_accepted(self) -> None:
        message = ManualMessage.from_payload(
            [{"id": 7, "channel": "sms", "status": "failed", "error": "no route"}]
        )
        assert (message.id, message.status, message.error) == (7, "failed", "no route")


class TestMasking:
    @pytest.mark.parametrize(
        ("value", "masked"),
        [
            ("+79991234567", "+7******4567"),
            ("+1 (415) 555-0100", "+1******0100"),
            ("+12345", "******"),
            ("anna@example.com", "a***@example.com"),
            ("@example.com", "******"),
            ("no-at-sign", "******"),
        ],
    )
    def test_mask(self, value: str, masked: str) -> None:
        assert mask_identifier(value) == masked

    def test_direct_helpers(self) -> None:
        assert mask_phone("+447911123456") == "+4*******3456"
        assert mask_email("x") == "******"


class TestDisplayMask:
    @pytest.mark.parametrize(
        ("value", "shown"),
        [
            ("+79991234567", "+7 ••• ••• 45 67"),
            ("+442079460000", "+44 ••• ••• 00 00"),
            ("+380501234567", "+380 ••• 45 67"),
            ("anna@example.com", "a•••@example.com"),
            ("+1234", "•••"),
        ],
    )
    def test_groups_never_wrap(self, value: str, shown: str) -> None:
        from django_kodmobi.masking import mask_for_display

        assert mask_for_display(value) == shown.replace(" ", "\u00a0")
