"""Reply parsing details the endpoint tests do not reach."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from django_kodmobi.client import (
    Channel,
    CheckResult,
    KodMobiRateLimitError,
    KodMobiResponseError,
    ManualChannel,
    ManualMessage,
    ProjectSettings,
    Session,
    SessionChannel,
    Verification,
)
from django_kodmobi.client.client import decode_json
from django_kodmobi.client.exceptions import MAX_PARAM, api_error_from_reply
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


class TestSession:
    REPLY = {"session_id": "01J9Z8X7W6V5T4S3R2Q1P0NMKH"}

    def test_no_channel_sent_and_no_channel_list(self) -> None:
        for sent_to in (None, "", "none"):
            reply = {
                **self.REPLY,
                "session_expired_at": "2025-10-28T09:22:48Z",
                "sent_to": sent_to,
            }
            session = Session.from_payload(reply)
            assert (session.sent_to, session.channels) == (None, ())
            assert session.expires_at == datetime(
                2025, 10, 28, 9, 22, 48, tzinfo=timezone.utc
            )

    def test_a_bad_expiry_is_named(self) -> None:
        reply = {**self.REPLY, "session_expired_at": "tomorrow"}
        with pytest.raises(KodMobiResponseError, match="^session_expired_at is not"):
            Session.from_payload(reply)


class TestErrorReplies:
    def test_what_kodmobi_said_is_kept(self) -> None:
        body = {"message": "Slow down", "sys_message": "X", "error_params": [1]}
        error = api_error_from_reply(418, body)
        assert (error.message, error.sys_message, error.error_params) == (
            "Slow down",
            "X",
            {},
        )
        assert error.payload == body and str(error) == "HTTP 418 X: Slow down"

    def test_a_message_that_is_not_text_is_replaced(self) -> None:
        for message in (42, ["x"], ""):
            error = api_error_from_reply(502, {"error": message})
            assert error.message == "kod.mobi answered HTTP 502"
            assert "no sys_message" in str(error)


class TestChannels:
    def test_name_falls_back_to_type_and_unknown_types_pass(self) -> None:
        channel = SessionChannel.from_payload(
            {"type": "viber", "is_active": True, "timeout": 12.7, "extra": 1}
        )
        assert (channel.name, channel.type, channel.timeout) == ("viber", "viber", 12)
        assert channel.raw["extra"] == 1
        assert channel.image_url == channel.link == channel.description == ""

    def test_a_missing_timeout_is_zero_and_one_that_is_not_a_number_refused(
        self,
    ) -> None:
        assert (
            SessionChannel.from_payload({"type": "sms", "is_active": True}).timeout == 0
        )
        for timeout in ("12", None, True):
            with pytest.raises(KodMobiResponseError, match="'timeout' is not a number"):
                SessionChannel.from_payload(
                    {"type": "sms", "is_active": True, "timeout": timeout}
                )

    def test_links_up_to_2048_characters(self) -> None:
        link = "https://t.me/" + "a" * (2048 - len("https://t.me/"))
        kept = SessionChannel.from_payload(
            {"type": "telegram", "is_active": True, "link": link}
        )
        assert kept.link == link
        longer = {"type": "telegram", "is_active": True, "link": link + "a"}
        assert SessionChannel.from_payload(longer).link == ""

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

    def test_an_envelope_that_is_not_a_success_proves_nothing(self) -> None:
        with pytest.raises(KodMobiResponseError, match="names no destination"):
            Verification.from_payload({"success": False, "data": {"to": "a@b.co"}})

    def test_a_destination_is_1_to_254_characters(self) -> None:
        for value in ("x", "a" * 242 + "@example.com"):
            assert Verification.from_payload({"to": value}).destination == value
        for value in ("", "   ", "a" * 243 + "@example.com"):
            with pytest.raises(KodMobiResponseError, match="names no destination"):
                Verification.from_payload({"to": value})

    def test_what_is_not_an_id_or_a_channel_is_refused_or_dropped(self) -> None:
        with pytest.raises(KodMobiResponseError, match="'session_id' is not"):
            Verification.from_payload({"to": "a@b.co", "session_id": "../x"})
        reply = {"to": "a@b.co", "sent_to": "<b>sms</b>"}
        assert Verification.from_payload(reply).sent_to == ""
        reply["sent_to"] = "sms"
        assert Verification.from_payload(reply).sent_to == "sms"


class TestCheckResult:
    def test_a_verify_token_is_1_to_512_characters(self) -> None:
        for token in ("t", "t" * 512):
            result = CheckResult.from_payload({"verify_token": token})
            assert (result.verify_token, result.is_test) == (token, False)
        for token in ("", "t" * 513):
            with pytest.raises(KodMobiResponseError, match="empty or too long"):
                CheckResult.from_payload({"verify_token": token})

    def test_only_true_marks_a_test_code(self) -> None:
        for is_test, marked in ((True, True), (1, False), ("true", False)):
            reply = {"verify_token": "t", "is_test": is_test}
            result = CheckResult.from_payload(reply)
            assert (result.is_test, result.raw) == (marked, reply)


class TestStrictJson:
    @pytest.mark.parametrize(
        "body",
        [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e999}'],
    )
    def test_no_number_that_is_not_finite(self, body: bytes) -> None:
        with pytest.raises(
            KodMobiResponseError, match="^reply is not JSON: ValueError"
        ):
            decode_json(body)

    def test_finite_numbers_pass(self) -> None:
        assert decode_json(b'{"a": 1.5, "b": -2e3}') == {"a": 1.5, "b": -2000.0}


class TestManualMessage:
    def test_one_element_array_is_accepted(self) -> None:
        message = ManualMessage.from_payload(
            [{"id": 7, "channel": "sms", "status": "failed", "error": "no route"}]
        )
        assert (message.id, message.status, message.error) == (7, "failed", "no route")

    def test_an_error_that_is_not_text_is_none(self) -> None:
        reply = {"id": 7, "channel": "sms", "status": "failed", "error": {"x": 1}}
        assert ManualMessage.from_payload(reply).error is None

    def test_a_longer_array_is_refused(self) -> None:
        one = {"id": 7, "channel": "sms", "status": "sent"}
        with pytest.raises(KodMobiResponseError, match="reply"):
            ManualMessage.from_payload([one, one])


class TestManualChannels:
    def test_names_and_providers(self) -> None:
        provider = {"id": 4, "name": "Own SMTP", "type": "smtp", "is_system": False}
        reply = [
            {"type": "email", "name": "E-mail", "providers": [provider]},
            {"type": "sms"},
        ]
        email, sms = ManualChannel.list_from_payload(reply)
        assert (email.name, email.providers[0].name, email.raw) == (
            "E-mail",
            "Own SMTP",
            reply[0],
        )
        assert (sms.name, sms.providers) == ("", ())

    @pytest.mark.parametrize(
        ("reply", "part"),
        [
            ({"type": "sms"}, "channels"),
            (["sms"], "channel"),
            ([{"type": "sms", "providers": {}}], "providers"),
            ([{"type": "sms", "providers": ["x"]}], "provider"),
        ],
    )
    def test_a_malformed_part_is_named(self, reply: object, part: str) -> None:
        with pytest.raises(KodMobiResponseError, match=f"^{part} "):
            ManualChannel.list_from_payload(reply)


class TestProjectSettings:
    def test_what_is_left_out_has_its_default(self) -> None:
        settings = ProjectSettings.from_payload({"code": {"length": 6}})
        assert (settings.language, settings.project_name) == ("", "")
        assert (settings.code.digits, settings.code.letters) == (True, False)
        assert (settings.challenge.enabled, settings.challenge.api_key) == (False, None)

    def test_only_true_is_true_and_only_text_is_a_key(self) -> None:
        reply = {
            "code": {"length": 6, "digits": 1, "letters": True},
            "challenge": {"enabled": "yes", "api_key": 42},
        }
        settings = ProjectSettings.from_payload(reply)
        assert (settings.code.digits, settings.code.letters) == (False, True)
        assert (settings.challenge.enabled, settings.challenge.api_key) == (False, None)
        assert settings.raw == reply

    @pytest.mark.parametrize("part", ["project", "code", "challenge"])
    def test_a_malformed_part_is_named(self, part: str) -> None:
        reply: dict[str, object] = {"code": {"length": 6}, part: "x"}
        with pytest.raises(KodMobiResponseError, match=f"^{part} "):
            ProjectSettings.from_payload(reply)


class TestErrorParams:
    @pytest.mark.parametrize(
        ("timeout", "seconds"),
        [
            (12, 12),
            (12.9, 12),
            (0, 0),
            (-5, 0),
            (10**9, MAX_PARAM),
            (float("nan"), None),
            (float("inf"), None),
            (float("-inf"), None),
            (True, None),
            ("12", None),
        ],
    )
    def test_a_wait_is_a_finite_number_clamped_to_a_day(
        self, timeout: object, seconds: int | None
    ) -> None:
        error = KodMobiRateLimitError(
            "wait", status=429, error_params={"timeout": timeout}
        )
        assert error.retry_after == seconds


class TestMasking:
    @pytest.mark.parametrize(
        ("value", "masked"),
        [
            ("+79991234567", "+7******4567"),
            ("+1 (415) 555-0100", "+1******0100"),
            ("+12345", "******"),
            ("+123456", "******"),  # six digits: too few to show any
            ("+1234567", "+1**4567"),
            ("anna@example.com", "a***@example.com"),
            ("a@b@example.com", "a***@example.com"),  # the domain is after the last @
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
            ("+123456", "•••"),
            ("+1234567", "+1 ••• 45 67"),
            # No country has the code: one digit is shown for it.
            ("+0991234567", "+0 ••• 45 67"),
        ],
    )
    def test_groups_never_wrap(self, value: str, shown: str) -> None:
        from django_kodmobi.masking import mask_for_display

        assert mask_for_display(value) == shown.replace(" ", "\u00a0")
