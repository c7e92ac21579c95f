"""Every endpoint and every sys_message, through both transports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from django_kodmobi.client import (
    Channel,
    KodMobiAuthenticationError,
    KodMobiBadRequestError,
    KodMobiBlockedError,
    KodMobiChallengeError,
    KodMobiChannelCountryError,
    KodMobiChannelInactiveError,
    KodMobiChannelNotEnabledError,
    KodMobiClient,
    KodMobiConfigurationError,
    KodMobiNotFoundError,
    KodMobiRateLimitError,
    KodMobiSessionExpiredError,
    KodMobiWrongCodeError,
)

from .conftest import Api
from .helpers import other_code


class TestCreate:
    def test_sends_through_the_requested_channel(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone, channel=Channel.SMS)

        assert session.sent_to == "sms"
        assert len(session.session_id) == 26
        assert session.expires_at.tzinfo is timezone.utc
        remaining = session.expires_at - datetime.fromtimestamp(
            api.engine.now(), timezone.utc
        )
        assert timedelta(seconds=179) < remaining <= timedelta(seconds=180)
        by_type = {c.type: c for c in session.channels}
        assert list(by_type) == ["telegram", "whatsapp", "sms", "email"]
        assert by_type["sms"].timeout == 60
        assert by_type["telegram"].timeout == 0
        assert by_type["email"].is_active is False
        assert by_type["telegram"].image_url.endswith("/sandbox/icons/telegram.svg")
        message = api.engine.inbox.last(phone)
        assert message is not None
        assert (message.channel, message.session_id) == ("sms", session.session_id)
        assert len(message.code) == 6 and message.code.isdigit()

    def test_without_a_channel_uses_the_first_active_one(
        self, api: Api, email: str
    ) -> None:
        session = api.client.create_session(email)
        assert session.sent_to == "email"

    def test_send_false_sends_nothing(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone, send=False)
        assert session.sent_to is None
        assert session.raw["sent_to"] == "none"
        assert api.engine.inbox.last(phone) is None

    def test_live_session_is_returned_and_nothing_resent(
        self, api: Api, phone: str
    ) -> None:
        first = api.client.create_session(phone, channel="telegram")
        again = api.client.create_session(phone, channel="sms")

        assert again.session_id == first.session_id
        assert again.expires_at == first.expires_at
        assert again.sent_to is None
        assert len(api.engine.inbox.messages(phone)) == 1

    def test_expired_session_is_replaced(self, api: Api, phone: str) -> None:
        first = api.client.create_session(phone)
        api.engine.advance(181)
        second = api.client.create_session(phone)
        assert second.session_id != first.session_id

    def test_prefers_the_channel_used_last(self, api: Api, phone: str) -> None:
        first = api.client.create_session(phone, channel="whatsapp")
        api.client.check_code(first.session_id, api.code(phone))
        second = api.client.create_session(phone)
        assert second.sent_to == "whatsapp"

    @pytest.mark.parametrize(
        "to",
        [
            "79991234567",
            "+0123456789",
            "+7999",
            "not-an-email@",
            "",
            "+7９９９１２３４５６７",
        ],
    )
    def test_bad_destination(self, api: Api, to: str) -> None:
        with pytest.raises(KodMobiBadRequestError) as info:
            api.client.create_session(to)
        assert info.value.status == 400
        assert info.value.sys_message == "ERROR_BAD_REQUEST"

    def test_unknown_channel_type(self, api: Api, phone: str) -> None:
        with pytest.raises(KodMobiBadRequestError):
            api.client.create_session(phone, channel="viber")

    def test_channel_not_in_project(
        self, api: Api, phone: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(api.engine.config, "channels", ("telegram", "sms"))
        with pytest.raises(KodMobiChannelNotEnabledError) as info:
            api.client.create_session(phone, channel="whatsapp")
        assert info.value.sys_message == "ERROR_PROJECT_HAS_NO_CHANNEL"

    def test_user_not_on_channel(self, api: Api, phone: str) -> None:
        with pytest.raises(KodMobiChannelInactiveError) as info:
            api.client.create_session(phone, channel="email")
        assert info.value.sys_message == "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL"

    def test_sms_not_allowed_in_country(
        self, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(api.engine.config, "sms_blocked_prefixes", ("+4420",))
        with pytest.raises(KodMobiChannelCountryError) as info:
            api.client.create_session("+442079460000", channel="sms")
        assert info.value.sys_message == "ERROR_CHANNEL_NOT_ALLOWED_COUNTRY"
        assert info.value.status == 400

    def test_wrong_public_key(self, api: Api, phone: str) -> None:
        client = KodMobiClient(
            "00000000-0000-0000-0000-000000000000",
            base_url=api.client.base_url,
            session=api.client.session,
        )
        with pytest.raises(KodMobiAuthenticationError) as info:
            client.create_session(phone)
        assert info.value.status == 401
        assert "00000000-0000" not in repr(info.value) + str(info.value)

    def test_errors_are_localised(self, api: Api) -> None:
        with pytest.raises(KodMobiBadRequestError) as info:
            api.client.create_session("nope", language="ru")
        assert info.value.message == "Некорректный запрос."
        with pytest.raises(KodMobiBadRequestError) as info:
            api.client.create_session("nope")
        assert info.value.message == "Invalid request."


class TestChallenge:
    @pytest.fixture(autouse=True)
    def _enable(self, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(api.engine.config, "challenge_enabled", True)

    def test_missing_or_wrong_token_is_refused(self, api: Api, phone: str) -> None:
        with pytest.raises(KodMobiChallengeError) as info:
            api.client.create_session(phone)
        assert (info.value.status, info.value.sys_message) == (403, "ERROR_CHALLENGE")
        with pytest.raises(KodMobiChallengeError):
            api.client.create_session(phone, challenge_token="forged")

    def test_token_passes_through_create_send_and_check(
        self, api: Api, phone: str
    ) -> None:
        token = api.engine.config.challenge_token
        session = api.client.create_session(phone, challenge_token=token)
        with pytest.raises(KodMobiChallengeError):
            api.client.send_code(session.session_id, "sms")
        api.client.send_code(session.session_id, "sms", challenge_token=token)
        with pytest.raises(KodMobiChallengeError):
            api.client.check_code(session.session_id, api.code(phone))
        result = api.client.check_code(
            session.session_id, api.code(phone), challenge_token=token
        )
        assert result.verify_token

    def test_settings_announce_the_site_key(self, api: Api) -> None:
        settings = api.client.get_settings()
        assert settings.challenge.enabled is True
        assert settings.challenge.api_key == api.engine.config.challenge_site_key
        assert settings.challenge.provider == "turnstile"


class TestSend:
    def test_resend_on_another_channel(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone, channel="telegram")
        result = api.client.send_code(session.session_id, Channel.WHATSAPP)

        assert result.session_id == session.session_id
        assert result.expires_at == session.expires_at
        assert (result.channel.type, result.channel.timeout) == ("whatsapp", 60)
        codes = [m.code for m in api.engine.inbox.messages(phone)]
        assert len(codes) == 2 and codes[0] == codes[1]

    def test_same_channel_before_timeout(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone, channel="sms")
        api.engine.advance(15)
        with pytest.raises(KodMobiRateLimitError) as info:
            api.client.send_code(session.session_id, "sms")
        assert info.value.status == 429
        assert info.value.sys_message == "ERROR_MESSAGE_ATTEMPT"
        assert info.value.retry_after == 45

        api.engine.advance(44.5)
        with pytest.raises(KodMobiRateLimitError) as info:
            api.client.send_code(session.session_id, "sms")
        assert info.value.retry_after == 1  # half a second, rounded up
        api.engine.advance(0.5)
        assert api.client.send_code(session.session_id, "sms").channel.timeout == 60

    def test_timeout_counts_down_in_the_channel_list(
        self, api: Api, phone: str
    ) -> None:
        session = api.client.create_session(phone, channel="sms")
        api.engine.advance(20)
        channels = {c.type: c for c in api.client.get_channels(session.session_id)}
        assert channels["sms"].timeout == 40
        assert channels["telegram"].timeout == 0

    def test_expired_session(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone)
        api.engine.advance(180)
        with pytest.raises(KodMobiSessionExpiredError) as info:
            api.client.send_code(session.session_id, "sms")
        assert info.value.sys_message == "ERROR_SESSION_EXPIRED"

    def test_unknown_session(self, api: Api) -> None:
        with pytest.raises(KodMobiSessionExpiredError):
            api.client.send_code("01J00000000000000000000000", "sms")

    def test_inactive_channel(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone)
        with pytest.raises(KodMobiChannelInactiveError):
            api.client.send_code(session.session_id, "email")


class TestChannels:
    def test_project_channels_without_session(self, api: Api) -> None:
        channels = api.client.get_channels()
        assert [c.type for c in channels] == ["telegram", "whatsapp", "sms", "email"]
        assert all(c.is_active and c.timeout == 0 for c in channels)
        assert channels[0].name == "Telegram"
        assert channels[0].description

    def test_session_channels_reflect_the_user(self, api: Api, email: str) -> None:
        session = api.client.create_session(email)
        channels = api.client.get_channels(session.session_id)
        # Email reached the person and counts down (shown inactive meanwhile,
        # like kod.mobi); nothing else reaches an email address.
        assert {c.type: (c.is_active, c.timeout > 0) for c in channels} == {
            "telegram": (False, False),
            "whatsapp": (False, False),
            "sms": (False, False),
            "email": (False, True),
        }

    def test_connecting_a_channel_activates_it(self, api: Api, email: str) -> None:
        session = api.client.create_session(email)
        api.engine.project.connect(email, "telegram")
        channels = {c.type: c for c in api.client.get_channels(session.session_id)}
        assert channels["telegram"].is_active
        api.client.send_code(session.session_id, "telegram")


class TestCheckAndVerify:
    def test_full_flow(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone, channel="telegram")
        result = api.client.check_code(session.session_id, api.code(phone))

        assert result.is_test is True
        assert result.verify_token not in repr(result)
        verification = api.client.verify_token(result.verify_token)
        assert verification.destination == phone
        assert verification.session_id == session.session_id
        assert verification.sent_to == "telegram"

    def test_verify_token_is_single_use(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone)
        token = api.client.check_code(session.session_id, api.code(phone)).verify_token
        api.client.verify_token(token)
        with pytest.raises(KodMobiSessionExpiredError):
            api.client.verify_token(token)

    def test_verify_token_dies_with_its_session(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone)
        token = api.client.check_code(session.session_id, api.code(phone)).verify_token
        api.engine.advance(181)
        with pytest.raises(KodMobiSessionExpiredError):
            api.client.verify_token(token)

    def test_unknown_verify_token(self, api: Api) -> None:
        with pytest.raises(KodMobiSessionExpiredError):
            api.client.verify_token("made-up")

    def test_verify_needs_the_secret_key(self, api: Api) -> None:
        config = api.engine.config
        public_only = KodMobiClient(
            config.public_key, base_url=api.client.base_url, session=api.client.session
        )
        with pytest.raises(KodMobiConfigurationError):
            public_only.verify_token("x")
        public_as_secret = KodMobiClient(
            config.public_key,
            config.public_key,
            base_url=api.client.base_url,
            session=api.client.session,
        )
        with pytest.raises(KodMobiAuthenticationError):
            public_as_secret.verify_token("x")

    def test_session_is_finished_after_a_right_code(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone)
        code = api.code(phone)
        api.client.check_code(session.session_id, code)
        with pytest.raises(KodMobiSessionExpiredError):
            api.client.check_code(session.session_id, code)
        assert api.client.create_session(phone).session_id != session.session_id

    def test_wrong_codes_count_and_block_at_five(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone)
        right = api.code(phone)
        wrong = other_code(right)
        for attempt in range(1, 5):
            with pytest.raises(KodMobiWrongCodeError) as info:
                api.client.check_code(session.session_id, wrong)
            assert info.value.attempts == attempt
            assert info.value.sys_message == "ERROR_MESSAGE_WRONG_CODE"
        with pytest.raises(KodMobiBlockedError) as blocked:
            api.client.check_code(session.session_id, wrong)
        assert (blocked.value.status, blocked.value.sys_message) == (
            429,
            "ERROR_BLOCKED",
        )
        # Dead: even the right code and a resend are refused now.
        with pytest.raises(KodMobiBlockedError) as dead:
            api.client.check_code(session.session_id, right)
        assert (dead.value.status, dead.value.error_params) == (429, {"count": 5})
        with pytest.raises(KodMobiBlockedError):
            api.client.send_code(session.session_id, "whatsapp")

    def test_resend_does_not_reset_wrong_attempts(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone, channel="sms")
        for _ in range(2):
            with pytest.raises(KodMobiWrongCodeError):
                api.client.check_code(session.session_id, "wrong")
        api.client.send_code(session.session_id, "telegram")
        with pytest.raises(KodMobiWrongCodeError) as info:
            api.client.check_code(session.session_id, "wrong")
        assert info.value.attempts == 3

    def test_code_is_checked_after_trimming(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone)
        assert api.client.check_code(session.session_id, f" {api.code(phone)} ")

    def test_expired_check(self, api: Api, phone: str) -> None:
        session = api.client.create_session(phone)
        api.engine.advance(180)
        with pytest.raises(KodMobiSessionExpiredError):
            api.client.check_code(session.session_id, api.code(phone))


class TestSettings:
    def test_code_format_and_language(self, api: Api) -> None:
        settings = api.client.get_settings(language="ru")
        assert settings.language == "ru"
        assert settings.project_name == "kod.mobi sandbox"
        assert (settings.code.length, settings.code.digits, settings.code.letters) == (
            6,
            True,
            False,
        )
        assert settings.challenge.enabled is False
        assert settings.challenge.api_key is None
        # As kod.mobi says it, not only as the client reads it by default.
        assert settings.raw["code"]["digits"] is True


class TestManual:
    def test_channels_and_providers(self, api: Api) -> None:
        channels = api.client.manual_channels()
        assert [c.type for c in channels] == ["telegram", "whatsapp", "sms", "email"]
        provider = channels[3].providers[0]
        assert provider.is_system and provider.id == 4 and provider.type == "sandbox"
        assert (channels[0].name, channels[3].name, provider.name) == (
            "Telegram",
            "Email",
            "Sandbox Email",
        )

    def test_send_own_code_and_track_it(self, api: Api, email: str) -> None:
        sent = api.client.manual_send(
            email, "email", code="4821", provider_id=4, callback_url="http://x.test/cb"
        )
        assert sent.code and "4821" not in sent.code
        assert sent.message
        message = api.engine.inbox.get(sent.message_id)
        assert message is not None
        assert (message.to, message.channel, message.code, message.session_id) == (
            email,
            "email",
            "4821",
            None,
        )

        status = api.client.manual_message(sent.message_id)
        assert (status.id, status.status) == (sent.message_id, "sent")
        api.engine.advance(api.engine.config.manual_delivery_seconds)
        status = api.client.manual_message(sent.message_id)
        assert (status.id, status.channel, status.status, status.error) == (
            sent.message_id,
            "email",
            "delivered",
            None,
        )

    def test_send_generates_a_code_when_none_given(self, api: Api, phone: str) -> None:
        sent = api.client.manual_send(phone, "sms")
        message = api.engine.inbox.get(sent.message_id)
        assert message is not None and len(message.code) == 6

    @pytest.mark.parametrize(
        "options", [{"code": "12"}, {"code": "12 34"}, {"provider_id": 99}]
    )
    def test_send_rejects_bad_input(
        self, api: Api, phone: str, options: dict[str, Any]
    ) -> None:
        with pytest.raises(KodMobiBadRequestError) as info:
            api.client.manual_send(phone, "sms", **options)
        assert info.value.sys_message == "ERROR_BAD_REQUEST"

    def test_unknown_message(self, api: Api) -> None:
        with pytest.raises(KodMobiNotFoundError) as info:
            api.client.manual_message(10**12)
        assert (info.value.status, info.value.sys_message) == (
            404,
            "ERROR_MESSAGE_NOT_FOUND",
        )

    def test_public_key_is_refused_on_secret_routes(self, api: Api) -> None:
        config = api.engine.config
        client = KodMobiClient(
            config.public_key,
            config.public_key,
            base_url=api.client.base_url,
            session=api.client.session,
        )
        with pytest.raises(KodMobiAuthenticationError):
            client.manual_channels()


class TestEveryCall:
    def test_asks_in_the_language_it_is_given_about_the_session_named(
        self, api: Api, phone: str
    ) -> None:
        asked: list[tuple[str, str]] = []

        def note(reply: requests.Response, *args: Any, **kwargs: Any) -> None:
            asked.append(
                (reply.request.path_url, reply.request.headers["Accept-Language"])
            )

        kodmobi = api.client
        kodmobi.session.hooks["response"].append(note)
        try:
            session = kodmobi.create_session(phone, language="ru")
            kodmobi.send_code(session.session_id, Channel.WHATSAPP, language="ru")
            kodmobi.get_channels(session.session_id, language="ru")
            kodmobi.get_settings(session.session_id, language="ru")
            kodmobi.get_settings(language="ru")
            code = api.code(phone)
            checked = kodmobi.check_code(session.session_id, code, language="ru")
            kodmobi.verify_token(checked.verify_token, language="ru")
            kodmobi.manual_channels(language="ru")
            sent = kodmobi.manual_send(phone, "sms", language="ru")
            kodmobi.manual_message(sent.message_id, language="ru")
        finally:
            kodmobi.session.hooks["response"].remove(note)
        assert [language for _, language in asked] == ["ru"] * 10
        paths = [path for path, _ in asked]
        assert paths[2:5] == [
            f"/session/channels?session_id={session.session_id}",
            f"/session/settings?session_id={session.session_id}",
            "/session/settings?session_id=",
        ]
