"""The REST API: every endpoint and error code, CSRF, login modes, schema."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_kodmobi import devices
from django_kodmobi.models import OTPSession, Status
from django_kodmobi.sandbox import Fault, FaultKind
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import limits, other_code

User = get_user_model()
EMAIL = "anna@example.com"
PHONE = "+79991234567"


def url(name: str) -> str:
    return reverse(f"kodmobi_api:{name}")


def kodmobi(**extra: Any) -> dict[str, Any]:
    return {**settings.KODMOBI, **extra}


class ApiTestCase(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.api = APIClient()
        self.user = User.objects.create_user("anna", EMAIL)

    def start(
        self, identifier: str = EMAIL, *, language: str = "en", **extra: Any
    ) -> dict[str, Any]:
        response = self.api.post(
            url("start"),
            {"identifier": identifier, **extra},
            format="json",
            HTTP_ACCEPT_LANGUAGE=language,
        )
        assert response.status_code == HTTPStatus.CREATED, response.json()
        return dict(response.json())

    def verify(self, flow: str, code: str) -> Any:
        return self.api.post(url("verify"), {"flow": flow, "code": code}, format="json")

    def assert_error(self, response: Any, status: int, code: str) -> dict[str, Any]:
        assert response.status_code == status, response.content
        body = dict(response.json())
        assert body["code"] == code
        assert body["detail"]
        return body


class StartTests(ApiTestCase):
    def test_sending_first(self) -> None:
        body = self.start()
        assert body["status"] == "sent"
        assert body["channel"] == "email"
        assert body["destination"] == "a•••@example.com"
        assert (body["attempts_left"], body["resends_left"], body["code_length"]) == (
            5,
            3,
            6,
        )
        assert body["flow"].startswith(OTPSession.objects.get().pk + ".")
        email = next(c for c in body["channels"] if c["type"] == "email")
        assert email["is_active"] and email["timeout"] == 60

    def test_start_and_status_name_channels_alike(self) -> None:
        for language in ("en", "ru"):
            with self.subTest(language):
                self.kodmobi.advance(181)
                body = self.start(PHONE, language=language)
                state = self.api.get(
                    url("status"),
                    HTTP_X_KODMOBI_FLOW=body["flow"],
                    HTTP_ACCEPT_LANGUAGE=language,
                ).json()

                def names(reply: dict[str, Any]) -> dict[str, tuple[str, str]]:
                    return {
                        c["type"]: (c["name"], c["description"])
                        for c in reply["channels"]
                    }

                assert names(body) == names(state)

    def test_channel_first(self) -> None:
        body = self.start(PHONE, channel="sms")
        assert body["channel"] == "sms"
        assert body["destination"] == "+7\u00a0•••\u00a0•••\u00a045\u00a067"

    def test_same_reply_for_unknown_accounts(self) -> None:
        known = self.start(EMAIL)
        unknown = self.start("stranger@example.com")
        for body in (known, unknown):
            body.pop("flow"), body.pop("destination"), body.pop("expires_at")
        assert known == unknown

    def test_validation(self) -> None:
        for payload in [
            {},
            {"identifier": ["x"]},
            {"identifier": "a@b.co", "channel": "fax"},
            {"identifier": "x" * 300},
        ]:
            body = self.assert_error(
                self.api.post(url("start"), payload, format="json"), 400, "invalid"
            )
            assert body["field_errors"]

    def test_invalid_identifier(self) -> None:
        self.assert_error(
            self.api.post(url("start"), {"identifier": "12"}, format="json"),
            400,
            "invalid_identifier",
        )

    def test_which_side_refuses_what(self) -> None:
        """The serializer refuses what cannot be read at all (a NUL, an
        overlong or invisible CAPTCHA answer, an overlong flow); the
        services judge the rest, untrimmed, and say why."""

        def start(**payload: Any) -> Any:
            return self.api.post(url("start"), payload, format="json")

        for refused, field in [
            (start(identifier="a\x00@b.co"), "identifier"),
            (start(identifier=EMAIL, challenge_token="x" * 4097), "challenge_token"),
            (start(identifier=EMAIL, challenge_token="a b"), "challenge_token"),
            (
                self.api.post(
                    url("verify"), {"flow": "f" * 129, "code": "123456"}, format="json"
                ),
                "flow",
            ),
        ]:
            body = self.assert_error(refused, 400, "invalid")
            assert list(body["field_errors"]) == [field]
        for identifier in ("1", "   "):
            self.assert_error(start(identifier=identifier), 400, "invalid_identifier")
        assert start(identifier=EMAIL, challenge_token="x" * 4096).status_code == 201
        unknown = {"flow": "f" * 128, "code": "123456"}
        self.assert_error(
            self.api.post(url("verify"), unknown, format="json"), 404, "not_found"
        )
        assert self.kodmobi.calls["create"] == 1

    def test_channel_unavailable(self) -> None:
        response = self.api.post(
            url("start"), {"identifier": PHONE, "channel": "email"}, format="json"
        )
        self.assert_error(response, 400, "channel_unavailable")

    def test_challenge(self) -> None:
        self.kodmobi.config.challenge_enabled = True
        self.assert_error(
            self.api.post(url("start"), {"identifier": PHONE}, format="json"),
            403,
            "challenge_failed",
        )
        self.start(PHONE, challenge_token=self.kodmobi.config.challenge_token)

    def test_kodmobi_unavailable(self) -> None:
        self.kodmobi.faults.add(Fault(FaultKind.ERROR))
        response = self.api.post(url("start"), {"identifier": PHONE}, format="json")
        body = self.assert_error(response, 503, "kodmobi_unavailable")
        assert response["Retry-After"] == "30" and body["retry_after"] == 30

    def test_json_only(self) -> None:
        response = self.api.post(url("start"), {"identifier": PHONE})
        self.assert_error(response, 415, "unsupported_media_type")
        assert OTPSession.objects.count() == 0


class ResendTests(ApiTestCase):
    def test_another_channel(self) -> None:
        flow = self.start(PHONE, channel="telegram")["flow"]
        response = self.api.post(
            url("resend"), {"flow": flow, "channel": "sms"}, format="json"
        )
        assert response.status_code == HTTPStatus.OK
        body = response.json()
        assert (body["channel"], body["resends_left"]) == ("sms", 2)
        timeouts = {c["type"]: c["timeout"] for c in body["channels"]}
        assert (
            timeouts["sms"] == 60
            and timeouts["telegram"] >= 59
            and timeouts["whatsapp"] == 0
        )

    def test_the_reply_shows_this_flows_waits(self) -> None:
        flow = self.start(PHONE, channel="telegram")["flow"]
        OTPSession.objects.update(channel_cooldowns={})
        reply = self.api.post(
            url("resend"), {"flow": flow, "channel": "whatsapp"}, format="json"
        ).json()
        # Only this flow knows it sent on whatsapp just now: the project's
        # list (no flow) would say 0.
        waits = {c["type"]: c["timeout"] for c in reply["channels"]}
        assert waits["whatsapp"] >= 59
        assert set(waits) == {"telegram", "whatsapp", "sms"}  # no email for a phone

    def test_start_limits_count_each_address(self) -> None:
        with limits(start_per_ip="1/h"):
            for address, expected in [
                ("198.51.100.1", 201),
                ("198.51.100.2", 201),
                ("198.51.100.1", 429),
            ]:
                reply = self.api.post(
                    url("start"),
                    {"identifier": PHONE},
                    format="json",
                    REMOTE_ADDR=address,
                )
                assert reply.status_code == expected, address

    def test_a_resend_replies_with_the_channels_of_this_flow(self) -> None:
        self.kodmobi.project.set_reachable(PHONE, ["sms", "whatsapp"])
        flow = self.start(PHONE, channel="sms")["flow"]
        reply = self.api.post(
            url("resend"), {"flow": flow, "channel": "whatsapp"}, format="json"
        ).json()
        # This phone has no Telegram: the project's own list would offer it.
        active = {c["type"] for c in reply["channels"] if c["is_active"]}
        assert active == {"sms", "whatsapp"}

    def test_too_soon_has_retry_after(self) -> None:
        flow = self.start(PHONE, channel="telegram")["flow"]
        response = self.api.post(
            url("resend"), {"flow": flow, "channel": "telegram"}, format="json"
        )
        body = self.assert_error(response, 429, "resend_too_soon")
        assert 55 <= int(response["Retry-After"]) <= 61
        assert body["retry_after"] == int(response["Retry-After"])

    def test_too_many_resends(self) -> None:
        flow = self.start(PHONE, channel="telegram")["flow"]
        for channel in ("whatsapp", "sms"):
            self.api.post(
                url("resend"), {"flow": flow, "channel": channel}, format="json"
            )
        self.kodmobi.advance(61)
        OTPSession.objects.update(channel_cooldowns={})
        assert (
            self.api.post(
                url("resend"), {"flow": flow, "channel": "telegram"}, format="json"
            ).status_code
            == 200
        )
        response = self.api.post(
            url("resend"), {"flow": flow, "channel": "whatsapp"}, format="json"
        )
        self.assert_error(response, 429, "too_many_resends")

    def test_unknown_flow(self) -> None:
        response = self.api.post(
            url("resend"), {"flow": "nope.nope", "channel": "sms"}, format="json"
        )
        self.assert_error(response, 404, "not_found")


class VerifyTests(ApiTestCase):
    def test_logs_in_with_a_session(self) -> None:
        flow = self.start()["flow"]
        response = self.verify(flow, self.kodmobi_code(EMAIL))
        assert response.status_code == HTTPStatus.OK
        body = response.json()
        device_token = body.pop("device_token")
        assert body == {
            "status": "logged_in",
            "user": {"id": self.user.pk, "username": "anna"},
        }
        assert int(self.api.session["_auth_user_id"]) == self.user.pk
        # This app is now a device trusted for the address; so is the browser.
        assert devices.device_key(device_token, EMAIL)
        assert devices.device_key(response.cookies[devices.COOKIE_NAME].value, EMAIL)

    def test_wrong_code(self) -> None:
        flow = self.start()["flow"]
        wrong = other_code(self.kodmobi_code(EMAIL))
        body = self.assert_error(self.verify(flow, wrong), 400, "invalid_code")
        assert body["attempts_left"] == 4

    def test_locked(self) -> None:
        flow = self.start()["flow"]
        wrong = other_code(self.kodmobi_code(EMAIL))
        for _ in range(4):
            self.verify(flow, wrong)
        self.assert_error(self.verify(flow, wrong), 403, "locked")

    def test_expired(self) -> None:
        flow = self.start()["flow"]
        code = self.kodmobi_code(EMAIL)
        self.kodmobi.advance(181)
        self.assert_error(self.verify(flow, code), 400, "expired")

    def test_already_used(self) -> None:
        flow = self.start()["flow"]
        code = self.kodmobi_code(EMAIL)
        assert self.verify(flow, code).status_code == 200
        self.assert_error(self.verify(flow, code), 409, "already_used")

    def test_destination_mismatch(self) -> None:
        from unittest import mock

        flow = self.start()["flow"]
        with mock.patch.object(
            self.kodmobi.project, "verify", return_value={"to": "eve@example.com"}
        ):
            self.assert_error(
                self.verify(flow, self.kodmobi_code(EMAIL)), 400, "destination_mismatch"
            )

    def test_login_not_allowed(self) -> None:
        flow = self.start("stranger@example.com")["flow"]
        response = self.verify(flow, self.kodmobi_code("stranger@example.com"))
        self.assert_error(response, 403, "login_not_allowed")

    def test_unknown_flow(self) -> None:
        self.assert_error(self.verify("x.y", "123456"), 404, "not_found")

    @override_settings(KODMOBI=kodmobi(API_LOGIN="token"))
    def test_token_login(self) -> None:
        flow = self.start()["flow"]
        body = self.verify(flow, self.kodmobi_code(EMAIL)).json()
        from rest_framework.authtoken.models import Token

        assert body["token"] == Token.objects.get(user=self.user).key
        assert "_auth_user_id" not in self.api.session

    @override_settings(KODMOBI=kodmobi(API_LOGIN="jwt"))
    def test_jwt_login(self) -> None:
        flow = self.start()["flow"]
        body = self.verify(flow, self.kodmobi_code(EMAIL)).json()
        assert body["access"].count(".") == 2 and body["refresh"].count(".") == 2

    @override_settings(KODMOBI=kodmobi(API_LOGIN="tests.test_api.custom_login"))
    def test_custom_login_hook(self) -> None:
        flow = self.start()["flow"]
        body = self.verify(flow, self.kodmobi_code(EMAIL)).json()
        assert body["greeting"] == "hello anna"


def custom_login(request: Any, user: Any) -> dict[str, str]:
    return {"greeting": f"hello {user.get_username()}"}


class CsrfTests(ApiTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.api = APIClient(enforce_csrf_checks=True)

    def test_anonymous_login_endpoints_need_csrf(self) -> None:
        response = self.api.post(url("start"), {"identifier": EMAIL}, format="json")
        self.assert_error(response, 403, "csrf_failed")
        assert OTPSession.objects.count() == 0

    def test_with_the_token(self) -> None:
        self.api.get(url("channels"))  # any page that sets the cookie would do
        from django.middleware.csrf import _get_new_csrf_string

        token = _get_new_csrf_string()
        self.api.cookies[settings.CSRF_COOKIE_NAME] = token
        response = self.api.post(
            url("start"), {"identifier": EMAIL}, format="json", HTTP_X_CSRFTOKEN=token
        )
        assert response.status_code == HTTPStatus.CREATED

    @override_settings(KODMOBI=kodmobi(API_LOGIN="token"))
    def test_token_mode_needs_no_csrf(self) -> None:
        response = self.api.post(url("start"), {"identifier": EMAIL}, format="json")
        assert response.status_code == HTTPStatus.CREATED


@override_settings(KODMOBI=kodmobi(BROWSER_SDK=True))
class CompleteTests(ApiTestCase):
    def sdk_check(self, reply: dict[str, Any], to: str = EMAIL) -> str:
        """What the kod.mobi browser SDK does with the start reply."""
        session_id = reply["kodmobi_session_id"]
        self.kodmobi.project.send(
            {"session_id": session_id, "type": "email"}, "http://sb"
        )
        checked = self.kodmobi.project.check(
            {"session_id": session_id, "code": self.kodmobi_code(to)}
        )
        return str(checked["verify_token"])

    @override_settings(
        KODMOBI=kodmobi(BROWSER_SDK=True, API_LOGIN="token", SIGNUP=True)
    )
    def test_a_token_signup_tells_its_receivers_the_request(self) -> None:
        from django_kodmobi import signals

        requests: list[Any] = []

        def receiver(request: Any, **kwargs: Any) -> None:
            requests.append(request)

        signals.user_signed_up.connect(receiver)
        self.addCleanup(signals.user_signed_up.disconnect, receiver)
        newcomer = "new.person@example.org"
        reply = self.start(newcomer, send=False)
        body = {"flow": reply["flow"], "verify_token": self.sdk_check(reply, newcomer)}
        response = self.api.post(url("complete"), body, format="json")
        assert response.status_code == HTTPStatus.OK, response.content
        assert [request.META["REMOTE_ADDR"] for request in requests] == ["127.0.0.1"]

    def test_browser_verify_token(self) -> None:
        reply = self.start(EMAIL, send=False)
        token = self.sdk_check(reply)
        body = {"flow": reply["flow"], "verify_token": token}
        response = self.api.post(url("complete"), body, format="json")
        assert response.status_code == HTTPStatus.OK, response.content
        assert response.json()["user"]["username"] == "anna"
        assert int(self.api.session["_auth_user_id"]) == self.user.pk
        again = self.api.post(url("complete"), body, format="json")
        self.assert_error(again, 409, "already_used")

    def test_needs_a_flow(self) -> None:
        reply = self.start(EMAIL, send=False)
        token = self.sdk_check(reply)
        response = self.api.post(
            url("complete"), {"verify_token": token}, format="json"
        )
        self.assert_error(response, 400, "invalid")

    @override_settings(KODMOBI=kodmobi(BROWSER_SDK=False))
    def test_off_by_default(self) -> None:
        reply = self.start(EMAIL, send=False)
        assert "kodmobi_session_id" not in reply
        body = {"flow": reply["flow"], "verify_token": "anything"}
        self.assert_error(
            self.api.post(url("complete"), body, format="json"), 404, "not_found"
        )

    @override_settings(
        KODMOBI=kodmobi(BROWSER_SDK=True, RATE_LIMITS={"complete_per_ip": "2/m"})
    )
    def test_rate_limited_per_ip(self) -> None:
        reply = self.start(EMAIL, send=False)
        body = {"flow": reply["flow"], "verify_token": "guess"}
        codes = [
            self.api.post(url("complete"), body, format="json").json()["code"]
            for _ in range(3)
        ]
        assert codes[-1] == "rate_limited"

    def test_validation(self) -> None:
        self.assert_error(
            self.api.post(url("complete"), {}, format="json"), 400, "invalid"
        )


class ChannelsAndStatusTests(ApiTestCase):
    def test_project_channels(self) -> None:
        response = self.api.get(url("channels"))
        assert [c["type"] for c in response.json()] == [
            "telegram",
            "whatsapp",
            "sms",
            "email",
        ]

    def test_channels_in_the_requests_language(self) -> None:
        channels = self.api.get(url("channels"), HTTP_ACCEPT_LANGUAGE="ru").json()
        by_type = {c["type"]: c for c in channels}
        assert by_type["whatsapp"]["name"] == "WhatsApp"
        assert by_type["email"]["description"] == "Код в письме"
        english = self.api.get(url("channels"), HTTP_ACCEPT_LANGUAGE="en").json()
        assert {c["type"]: c for c in english}["email"]["description"] == (
            "Code in an email"
        )

    def test_project_channels_are_cached(self) -> None:
        from django.core.cache import cache

        cache.clear()
        self.api.get(url("channels"))
        self.kodmobi.faults.add(Fault(FaultKind.ERROR))
        assert self.api.get(url("channels")).status_code == 200
        cache.clear()
        self.assert_error(self.api.get(url("channels")), 503, "kodmobi_unavailable")

    def test_flow_channels(self) -> None:
        flow = self.start(EMAIL)["flow"]
        response = self.api.get(url("channels"), HTTP_X_KODMOBI_FLOW=flow)
        active = [c["type"] for c in response.json() if c["is_active"]]
        assert active == ["email"]

    def test_status(self) -> None:
        flow = self.start(EMAIL)["flow"]
        body = self.api.get(url("status"), HTTP_X_KODMOBI_FLOW=flow).json()
        assert (body["status"], body["attempts_left"]) == ("sent", 5)
        assert "flow" not in body
        self.verify(flow, self.kodmobi_code(EMAIL))
        body = self.api.get(url("status"), HTTP_X_KODMOBI_FLOW=flow).json()
        assert (body["status"], body["channels"]) == ("consumed", [])

    def test_status_needs_the_flow(self) -> None:
        # A request without the header is malformed; a flow nobody holds is
        # not found.
        body = self.assert_error(self.api.get(url("status")), 400, "invalid")
        assert list(body["field_errors"]) == ["X-Kodmobi-Flow"]
        self.assert_error(
            self.api.get(url("status"), HTTP_X_KODMOBI_FLOW="a.b"), 404, "not_found"
        )

    def test_expired_flow_channels(self) -> None:
        flow = self.start(EMAIL)["flow"]
        self.kodmobi.advance(181)
        self.assert_error(
            self.api.get(url("channels"), HTTP_X_KODMOBI_FLOW=flow), 400, "expired"
        )
        assert OTPSession.objects.get().status == Status.SENT


def tokens_with_the_request(request: Any, user: Any) -> dict[str, Any]:
    """A custom API_LOGIN callable: it gets the request and the user."""
    return {"seen": request.path, "who": user.get_username()}


class MoreApiTests(ApiTestCase):
    def test_status_shows_what_kodmobi_says_for_this_flow(self) -> None:
        self.kodmobi.project.set_reachable(PHONE, ["sms"])
        flow = self.start(PHONE)["flow"]
        channels = {
            c["type"]: c
            for c in self.api.get(url("status"), HTTP_X_KODMOBI_FLOW=flow).json()[
                "channels"
            ]
        }
        # The project's list would show Telegram as usable; this phone has not
        # opened the bot.
        assert channels["telegram"]["is_active"] is False

    def test_status_shows_the_flows_own_channels(self) -> None:
        flow = self.start(EMAIL)["flow"]
        channels = {
            c["type"]: c
            for c in self.api.get(url("status"), HTTP_X_KODMOBI_FLOW=flow).json()[
                "channels"
            ]
        }
        assert channels["email"]["timeout"] > 0 and channels["email"]["is_active"]
        assert set(channels) == {"email"}  # only what can reach an address

    @override_settings(
        KODMOBI=kodmobi(API_LOGIN="tests.test_api.tokens_with_the_request")
    )
    def test_a_custom_login_gets_the_request(self) -> None:
        flow = self.start(EMAIL)["flow"]
        reply = self.verify(flow, self.kodmobi_code(EMAIL)).json()
        assert (reply["seen"], reply["who"]) == (url("verify"), "anna")


class ApiPassOnTests(ApiTestCase):
    """What the API passes on to the services, each pinned."""

    def test_captcha_answers_reach_kodmobi_on_every_call(self) -> None:
        token = self.kodmobi.config.challenge_token
        self.kodmobi.config.challenge_enabled = True
        assert (
            self.api.post(url("start"), {"identifier": PHONE}, format="json").json()[
                "code"
            ]
            == "challenge_failed"
        )
        flow = self.start(PHONE, channel="sms", challenge_token=token)["flow"]
        self.kodmobi.advance(61)
        OTPSession.objects.update(channel_cooldowns={})
        body = {"flow": flow, "channel": "whatsapp"}
        refused = self.api.post(url("resend"), body, format="json")
        assert refused.json()["code"] == "challenge_failed"
        resent = self.api.post(
            url("resend"), {**body, "challenge_token": token}, format="json"
        )
        assert resent.status_code == 200
        # The reply shows the flow's own channels: WhatsApp now counts down.
        waits = {c["type"]: c["timeout"] for c in resent.json()["channels"]}
        assert waits["whatsapp"] == 60
        code = self.kodmobi_code(PHONE)
        assert self.verify(flow, code).json()["code"] == "challenge_failed"
        ok = self.api.post(
            url("verify"),
            {"flow": flow, "code": code, "challenge_token": token},
            format="json",
        )
        assert ok.status_code == 403 and ok.json()["code"] == "login_not_allowed"
        assert self.kodmobi.calls["verify"] == 1

    def test_flow_channels_carry_this_apps_own_cooldown(self) -> None:
        flow = self.start(PHONE, channel="sms")["flow"]
        self.kodmobi.advance(61)
        until = OTPSession.objects.get().channel_cooldowns["sms"] + 30
        OTPSession.objects.update(channel_cooldowns={"sms": until})
        channels = self.api.get(url("channels"), HTTP_X_KODMOBI_FLOW=flow).json()
        sms = next(c for c in channels if c["type"] == "sms")
        assert sms["timeout"] > 0 and sms["is_active"]

    @override_settings(
        KODMOBI=kodmobi(
            BROWSER_SDK=True,
            API_LOGIN="token",
            RATE_LIMITS={"complete_per_ip": "1/m", "start_per_ip": ""},
        )
    )
    def test_complete_in_token_mode_counted_per_address(self) -> None:
        reply = self.start(EMAIL, send=False)
        session_id = reply["kodmobi_session_id"]
        self.kodmobi.project.send({"session_id": session_id, "type": "email"}, "x")
        token = self.kodmobi.project.check(
            {"session_id": session_id, "code": self.kodmobi_code(EMAIL)}
        )["verify_token"]
        other = self.api.post(
            url("complete"),
            {"flow": "someone.elses", "verify_token": "not-it"},
            format="json",
            REMOTE_ADDR="198.51.100.8",
        )
        assert other.json()["code"] == "not_found"  # counted, for its own address
        done = self.api.post(
            url("complete"),
            {"flow": reply["flow"], "verify_token": token},
            format="json",
            REMOTE_ADDR="198.51.100.9",
        )
        assert done.status_code == 200, done.content
        assert done.json()["token"]
        assert "_auth_user_id" not in self.api.session


class SchemaTests(ApiTestCase):
    def schema(self) -> dict[str, Any]:
        response = self.api.get(
            url("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json"
        )
        assert response.status_code == HTTPStatus.OK
        import json

        return dict(json.loads(response.content))

    def test_descriptions_are_for_readers_and_the_schema_is_not_listed(self) -> None:
        schema = self.schema()
        operations = [op for ops in schema["paths"].values() for op in ops.values()]
        assert all(op.get("description") for op in operations)
        assert not any("Shared behaviour" in op["description"] for op in operations)
        assert "/api/auth/schema/" not in schema["paths"]
        user = schema["components"]["schemas"]["UserReply"]["properties"]
        assert user["id"]["type"] == "integer"  # auth.User's pk is a number

    def documented(self, name: str, method: str) -> dict[str, set[str]]:
        """Per error status of one operation: the codes its enum allows."""
        schema = self.schema()
        replies = schema["paths"][url(name)][method]["responses"]
        codes: dict[str, set[str]] = {}
        for status, reply in replies.items():
            if status.startswith("2"):
                continue
            ref = reply["content"]["application/json"]["schema"]["$ref"]
            component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
            code = component["properties"]["code"]
            if "$ref" in code:  # drf-spectacular names enums as components
                code = schema["components"]["schemas"][code["$ref"].rsplit("/", 1)[1]]
            codes[status] = set(code["enum"])
            assert codes[status] == set(reply["description"].split(", "))
        return codes

    def test_each_operation_lists_its_own_errors_as_an_enum(self) -> None:
        from django_kodmobi.exceptions import OUTCOMES, Failure

        start = self.documented("start", "post")
        assert start["400"] >= {"invalid", "invalid_identifier"}
        assert "csrf_failed" in start["403"]
        assert start["413"] == {"request_too_large"}
        assert start["415"] == {"unsupported_media_type"}
        assert start["429"] == {"rate_limited", "resend_too_soon", "too_many_failures"}
        # Every code sits under its own status.
        for status, names in start.items():
            for name in names:
                if name in Failure.values:
                    assert str(int(OUTCOMES[Failure(name)].status)) == status
        verify = self.documented("verify", "post")
        assert "invalid_code" in verify["400"] and "invalid_code" not in start["400"]
        assert "too_many_resends" in self.documented("resend", "post")["429"]
        assert "too_many_resends" not in verify["429"]
        flow_status = self.documented("status", "get")
        assert "csrf_failed" not in flow_status["403"]  # no body, no CSRF
        assert "415" not in flow_status

    def test_the_flow_header(self) -> None:
        paths = self.schema()["paths"]
        status = paths[url("status")]["get"]["parameters"]
        channels = paths[url("channels")]["get"]["parameters"]
        assert [(p["name"], p["in"], p["required"]) for p in status] == [
            ("X-Kodmobi-Flow", "header", True)
        ]
        assert [(p["name"], p["in"], p.get("required", False)) for p in channels] == [
            ("X-Kodmobi-Flow", "header", False)
        ]
        assert all(p["description"] for p in status + channels)

    def test_schema_is_valid_openapi(self) -> None:
        from openapi_spec_validator import validate

        schema = self.schema()
        validate(schema)
        paths = schema["paths"]
        for name in ["start", "resend", "verify", "complete", "channels", "status"]:
            assert url(name) in paths
        # What the serializers refuse is said, for clients and fuzzers.
        start = schema["components"]["schemas"]["StartRequest"]["properties"]
        assert start["identifier"]["pattern"] == "^[^\\u0000]*$"
        assert start["challenge_token"]["pattern"] == "^[!-~]*$"
        assert (
            start["challenge_token"]["minLength"],
            start["challenge_token"]["maxLength"],
        ) == (1, 4096)

    def test_responses_match_the_schema(self) -> None:
        import jsonschema

        schema = self.schema()

        def check(body: Any, path: str, method: str, status: int) -> None:
            content = schema["paths"][path][method]["responses"][str(status)]["content"]
            node = content["application/json"]["schema"]
            jsonschema.validate(body, {**node, "components": schema["components"]})

        start = self.api.post(url("start"), {"identifier": EMAIL}, format="json")
        check(start.json(), url("start"), "post", 201)
        flow = start.json()["flow"]
        check(
            self.api.get(url("status"), HTTP_X_KODMOBI_FLOW=flow).json(),
            url("status"),
            "get",
            200,
        )
        check(self.api.get(url("channels")).json(), url("channels"), "get", 200)
        too_soon = self.api.post(
            url("resend"), {"flow": flow, "channel": "email"}, format="json"
        )
        check(too_soon.json(), url("resend"), "post", 429)
        invalid = self.api.post(url("verify"), {"flow": flow}, format="json")
        check(invalid.json(), url("verify"), "post", 400)
        ok = self.verify(flow, self.kodmobi_code(EMAIL))
        check(ok.json(), url("verify"), "post", 200)

    @pytest.mark.filterwarnings("ignore")
    def test_unsupported_method(self) -> None:
        body = self.assert_error(self.api.get(url("start")), 405, "method_not_allowed")
        assert "GET" in body["detail"]
