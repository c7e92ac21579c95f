"""The sandbox's own surface: routes, CORS, controls, faults, server, CLI."""

from __future__ import annotations

import io
import json
import string
import subprocess
import sys
from contextlib import redirect_stderr
from typing import Any

import pytest
import requests

from django_kodmobi.client import (
    KodMobiBadRequestError,
    KodMobiClient,
    KodMobiConnectionError,
    KodMobiResponseError,
    KodMobiServerError,
    KodMobiSessionExpiredError,
    KodMobiTimeoutError,
)
from django_kodmobi.sandbox import (
    DEFAULT_PUBLIC_KEY,
    DEFAULT_SECRET_KEY,
    TEST_DESTINATION_BLOCKED,
    TEST_DESTINATIONS,
    Fault,
    FaultKind,
    Inbox,
    SandboxConfig,
    SandboxEngine,
    SandboxRequest,
    SandboxServer,
    sandbox_client,
)
from django_kodmobi.sandbox.cli import add_arguments, config_from_options, main

from .conftest import FakeClock
from .helpers import other_code

PUBLIC = SandboxConfig().public_key


def call(
    engine: SandboxEngine,
    method: str,
    path: str,
    body: object = None,
    query: str = "",
    **headers: str,
):
    raw = (
        b""
        if body is None
        else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    hdrs = {
        "x-api-key": PUBLIC,
        **{k.replace("_", "-").lower(): v for k, v in headers.items()},
    }
    return engine.handle(
        SandboxRequest(method, path, query, hdrs, raw, "http://sb.test")
    )


class TestApiSurface:
    def test_v2_family_behaves_the_same(self, engine: SandboxEngine) -> None:
        created = call(
            engine, "POST", "/v2/create", {"to": "+79990000001", "type": "sms"}
        )
        assert created.status == 200
        session_id = created.json()["session_id"]
        code = engine.last_code("+79990000001")
        channels = call(engine, "GET", "/v2/channels", query=f"session_id={session_id}")
        assert channels.json()[2]["timeout"] == 60
        checked = call(
            engine, "POST", "/v2/check", {"session_id": session_id, "code": code}
        )
        token = checked.json()["verify_token"]
        verified = call(
            engine,
            "POST",
            "/v2/verify",
            {"verify_token": token},
            x_api_key=engine.config.secret_key,
        )
        assert verified.json()["to"] == "+79990000001"
        assert call(engine, "GET", "/v2/settings").json()["code"]["length"] == 6

    def test_form_content_type_is_read_as_json(self, engine: SandboxEngine) -> None:
        reply = call(
            engine,
            "POST",
            "/session/create",
            b'{"to": "+79991234567", "type": "telegram", "send": true}',
            content_type="application/x-www-form-urlencoded",
        )
        assert reply.status == 200
        assert reply.json()["sent_to"] == "telegram"

    @pytest.mark.parametrize("body", [b"", b"[1]", b"to=+7999", b'"x"', b"{bad"])
    def test_body_must_be_a_json_object(
        self, engine: SandboxEngine, body: bytes
    ) -> None:
        reply = call(engine, "POST", "/session/create", body)
        assert reply.status == 400
        assert reply.json() == {
            "success": False,
            "error": "Invalid request.",
            "error_params": {},
            "status": 400,
            "sys_message": "ERROR_BAD_REQUEST",
        }

    @pytest.mark.parametrize(
        "body",
        [
            {"to": "+79991234567", "send": "yes"},
            {"to": 79991234567},
            {"session_id": 1, "type": "sms"},
        ],
    )
    def test_field_types_are_checked(
        self, engine: SandboxEngine, body: dict[str, Any]
    ) -> None:
        path = "/session/send" if "session_id" in body else "/session/create"
        assert call(engine, "POST", path, body).status == 400

    def test_unknown_path_and_wrong_method(self, engine: SandboxEngine) -> None:
        missing = call(engine, "GET", "/session/nothing", Accept_Language="ru")
        assert missing.status == 404
        assert missing.json()["error"] == "Неизвестный метод."
        assert call(engine, "GET", "/session/create").status == 405

    def test_cors_on_public_routes_only(self, engine: SandboxEngine) -> None:
        preflight = call(engine, "OPTIONS", "/session/create")
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
        assert (
            "X-CF-TURNSTILE-TOKEN" in preflight.headers["Access-Control-Allow-Headers"]
        )
        assert "x-api-key" in preflight.headers["Access-Control-Allow-Headers"]
        public = call(engine, "GET", "/session/settings")
        assert public.headers["Access-Control-Allow-Origin"] == "*"
        secret = call(
            engine, "GET", "/manual/channels", x_api_key=engine.config.secret_key
        )
        assert secret.status == 200
        assert "Access-Control-Allow-Origin" not in secret.headers

    def test_missing_key(self, engine: SandboxEngine) -> None:
        reply = engine.handle(SandboxRequest("GET", "/session/settings"))
        assert (reply.status, reply.json()["sys_message"]) == (
            401,
            "ERROR_ACCESS_DENIED",
        )

    def test_accept_language_variants(self, engine: SandboxEngine) -> None:
        for header, text in [
            ("ru-RU,ru;q=0.9", "Неверный API-ключ."),
            ("en-US", "Your API key is wrong."),
            ("de, ru", "Your API key is wrong."),
        ]:
            reply = call(
                engine,
                "GET",
                "/session/settings",
                x_api_key="x",
                accept_language=header,
            )
            assert reply.json()["error"] == text


class TestCodes:
    def test_letters_and_length(self) -> None:
        engine = SandboxEngine(
            SandboxConfig(echo=False, code_length=8, code_letters=True)
        )
        with sandbox_client(engine) as client:
            session = client.create_session("a@example.com")
            code = engine.last_code("a@example.com")
            assert (
                code is not None
                and len(code) == 8
                and code.isalnum()
                and code.upper() == code
            )
            assert client.get_settings().code.letters is True
            # Letters are compared case-insensitively, as a person types them.
            assert client.check_code(session.session_id, code.lower()).verify_token

    def test_codes_with_letters_have_digits_too(self) -> None:
        project = SandboxEngine(
            SandboxConfig(echo=False, code_length=8, code_letters=True)
        ).project
        characters = set("".join(project._new_code() for _ in range(50)))
        assert characters & set(string.digits) and characters & set(
            string.ascii_uppercase
        )
        assert characters <= set(string.digits + string.ascii_uppercase)

    def test_a_fixed_code_with_letters_is_sent_as_capitals(self) -> None:
        engine = SandboxEngine(
            SandboxConfig(echo=False, code_letters=True, fixed_code="ab12cd")
        )
        with sandbox_client(engine) as client:
            client.create_session("+79990000004")
        assert engine.last_code("+79990000004") == "AB12CD"

    def test_fixed_code(self) -> None:
        engine = SandboxEngine(SandboxConfig(echo=False, fixed_code="424242"))
        with sandbox_client(engine) as client:
            client.create_session("+79990000002")
            assert engine.project.code_for("+79990000002") == "424242"
            assert engine.project.code_for("+79990000003") is None

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"channels": ("telegram", "viber")},
            {"code_length": 3},
            {"code_length": 9},
            {"fixed_code": "123"},
            {"session_ttl": 0},
            {"public_key": ""},
            {"public_key": "same", "secret_key": "same"},
        ],
    )
    def test_config_is_validated(self, kwargs: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            SandboxConfig(**kwargs)


class TestUsersAndConnect:
    def test_configured_users(self) -> None:
        engine = SandboxEngine(
            SandboxConfig(echo=False, users={"+79990000004": frozenset({"sms"})})
        )
        with sandbox_client(engine) as client:
            session = client.create_session("+79990000004")
            assert session.sent_to == "sms"
            assert [c.type for c in session.channels if c.timeout] == ["sms"]
            assert not any(c.is_active for c in session.channels)

    def test_nobody_reachable(self) -> None:
        engine = SandboxEngine(
            SandboxConfig(echo=False, users={"+79990000005": frozenset()})
        )
        reply = call(engine, "POST", "/session/create", {"to": "+79990000005"})
        assert reply.json()["sys_message"] == "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL"

    def test_the_docs_number_is_on_telegram_in_a_default_sandbox(self) -> None:
        # The suite's engine reaches every phone on Telegram; a default one
        # reaches only its test destinations there (the docs' request).
        engine = SandboxEngine(SandboxConfig(echo=False))
        assert (
            call(
                engine,
                "POST",
                "/session/create",
                {"to": "+79991234567", "type": "telegram"},
            ).json()["sent_to"]
            == "telegram"
        )
        other = call(
            engine,
            "POST",
            "/session/create",
            {"to": "+79991234568", "type": "telegram"},
        )
        assert other.json()["sys_message"] == "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL"

    def test_the_sms_only_test_number(self, engine: SandboxEngine) -> None:
        reply = call(engine, "POST", "/session/create", {"to": "+79990000100"}).json()
        assert reply["sent_to"] == "sms"
        refused = call(
            engine,
            "POST",
            "/session/send",
            {"session_id": reply["session_id"], "type": "whatsapp"},
        )
        assert refused.json()["sys_message"] == "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL"

    def test_the_blocked_test_number_stays_blocked(self, engine: SandboxEngine) -> None:
        for _ in range(2):
            reply = call(
                engine, "POST", "/session/create", {"to": TEST_DESTINATION_BLOCKED}
            )
            assert (reply.status, reply.json()["sys_message"]) == (
                429,
                "ERROR_PHONE_BLOCKED",
            )
            assert reply.json()["error_params"]["timeout"] == 3600
            engine.advance(7200)

    def test_blocks_set_at_run_time(self, engine: SandboxEngine) -> None:
        to = "+79990000007"
        assert (
            call(engine, "POST", "/sandbox/blocks", {"to": to, "seconds": 60}).status
            == 201
        )
        reply = call(engine, "POST", "/session/create", {"to": to})
        assert (
            reply.json()["sys_message"],
            reply.json()["error_params"]["timeout"],
        ) == ("ERROR_PHONE_BLOCKED", 60)
        engine.advance(61)
        assert call(engine, "POST", "/session/create", {"to": to}).status == 200
        bad = call(engine, "POST", "/sandbox/blocks", {"seconds": 60})
        assert bad.status == 400

    def test_balance_and_channels_switched_at_run_time(
        self, engine: SandboxEngine
    ) -> None:
        reply = call(engine, "POST", "/sandbox/settings", {"balance_empty": True})
        assert reply.json()["balance_empty"] is True
        refused = call(engine, "POST", "/session/create", {"to": "+79990000008"})
        assert refused.json()["sys_message"] == "ERROR_WRONG_BALANCE"
        call(
            engine,
            "POST",
            "/sandbox/settings",
            {"balance_empty": False, "channels": []},
        )
        refused = call(engine, "POST", "/session/create", {"to": "+79990000008"})
        assert refused.json()["sys_message"] == "ERROR_PROJECT_HAS_NO_CHANNELS"
        call(
            engine,
            "POST",
            "/sandbox/settings",
            {"channels": ["sms"], "phone_channels": ["sms"]},
        )
        assert (
            call(engine, "POST", "/session/create", {"to": "+79990000008"}).json()[
                "sent_to"
            ]
            == "sms"
        )
        # reset() puts the configuration back as it started.
        started = sorted(engine._initial_config.phone_channels)
        engine.reset()
        assert call(engine, "GET", "/sandbox/settings").json() == {
            "balance_empty": False,
            "channels": ["telegram", "whatsapp", "sms", "email"],
            "phone_channels": started,
        }

    @pytest.mark.parametrize(
        "body",
        [
            {"echo": False},
            {"channels": ["fax"]},
            {"balance_empty": True, "code_length": 4},
        ],
    )
    def test_settings_it_cannot_change(
        self, engine: SandboxEngine, body: dict[str, Any]
    ) -> None:
        reply = call(engine, "POST", "/sandbox/settings", body)
        assert reply.status == 400
        assert call(engine, "GET", "/sandbox/settings").json()["balance_empty"] is False

    def test_users_control_route(self, engine: SandboxEngine) -> None:
        reply = call(
            engine,
            "POST",
            "/sandbox/users",
            {"to": "+79990000006", "channels": ["whatsapp"]},
        )
        assert reply.status == 200
        created = call(engine, "POST", "/session/create", {"to": "+79990000006"})
        assert created.json()["sent_to"] == "whatsapp"
        assert (
            call(
                engine,
                "POST",
                "/sandbox/users",
                {"to": "+79990000006", "channels": "sms"},
            ).status
            == 400
        )
        assert (
            call(
                engine,
                "POST",
                "/sandbox/users",
                {"to": "+79990000006", "channels": ["fax"]},
            ).status
            == 400
        )
        assert (
            call(engine, "POST", "/sandbox/users", {"to": "bad", "channels": []}).status
            == 400
        )

    def test_connect_page(self, engine: SandboxEngine) -> None:
        form = call(engine, "GET", "/sandbox/connect/telegram")
        assert b"<form" in form.body and b"Connect Telegram" in form.body
        done = call(
            engine, "GET", "/sandbox/connect/telegram", query="to=a%40example.com"
        )
        assert b"Connected to Telegram" in done.body
        created = call(
            engine,
            "POST",
            "/session/create",
            {"to": "a@example.com", "type": "telegram"},
        )
        assert created.json()["sent_to"] == "telegram"

    def test_the_connect_page_takes_a_number_as_people_type_it(
        self, engine: SandboxEngine
    ) -> None:
        done = call(
            engine,
            "GET",
            "/sandbox/connect/telegram",
            query="to=%2B7+%28999%29+123-45-67",
        )
        assert b"Connected to Telegram" in done.body
        call(engine, "GET", "/sandbox/connect/telegram", query="to=Anna%40Example.com")
        for to in ("+79991234567", "anna@example.com"):
            created = call(
                engine, "POST", "/session/create", {"to": to, "type": "telegram"}
            )
            assert created.json()["sent_to"] == "telegram", to

    def test_telegram_bot_link_setting(self) -> None:
        engine = SandboxEngine(
            SandboxConfig(echo=False, telegram_bot_link="https://t.me/my-tg-bot")
        )
        links = {
            c["type"]: c["link"]
            for c in call(engine, "GET", "/session/channels").json()
        }
        assert links["telegram"] == "https://t.me/my-tg-bot"
        assert links["sms"] == "http://sb.test/sandbox/connect/sms"


class TestInbox:
    def test_json_html_filter_and_clear(self, engine: SandboxEngine) -> None:
        assert b"No messages yet" in call(engine, "GET", "/sandbox/").body
        call(engine, "POST", "/session/create", {"to": "+79990000007"})
        call(engine, "POST", "/session/create", {"to": "x<y>@example.com"})
        everything = call(engine, "GET", "/sandbox/inbox").json()["messages"]
        # Newest first, as on the page.
        assert [m["to"] for m in everything] == ["x<y>@example.com", "+79990000007"]
        first = everything[0]
        assert set(first) == {
            "id",
            "to",
            "channel",
            "code",
            "text",
            "session_id",
            "sent_at",
        }
        assert first["sent_at"].endswith("Z") and first["code"] in first["text"]
        only = call(engine, "GET", "/sandbox/inbox", query="to=%2B79990000007").json()
        assert len(only["messages"]) == 1
        page = call(engine, "GET", "/sandbox")
        assert page.headers["Content-Type"].startswith("text/html")
        assert first["code"].encode() in page.body
        assert b"x&lt;y&gt;@example.com" in page.body
        assert call(engine, "DELETE", "/sandbox/inbox").json() == {"messages": []}
        assert engine.inbox.messages() == []

    def test_console_echo_masks_the_destination(self) -> None:
        stream = io.StringIO()
        inbox = Inbox(stream=stream)
        inbox.deliver("+79991234567", "sms", "123456", 0.0, None)
        assert (
            stream.getvalue() == "[kod.mobi sandbox] sms -> +7******4567: code 123456\n"
        )

    def test_echo_defaults_to_stderr(self) -> None:
        err = io.StringIO()
        with redirect_stderr(err):
            Inbox().deliver("a@example.com", "email", "1234", 0.0, None)
        assert "a***@example.com" in err.getvalue()

    def test_bounded(self) -> None:
        inbox = Inbox(echo=False, limit=2)
        for n in range(3):
            inbox.deliver("a@example.com", "email", str(n), 0.0, None)
        assert [m.code for m in inbox.messages()] == ["1", "2"]
        assert inbox.get(1) is None

    def test_last_is_the_newest_for_that_address(self) -> None:
        inbox = Inbox(echo=False)
        for to, code in [("a@x.io", "1"), ("b@x.io", "2"), ("a@x.io", "3")]:
            inbox.deliver(to, "email", code, 0.0, None)
        inbox.deliver("b@x.io", "email", "4", 0.0, None)

        def last_code(to: str | None = None) -> str | None:
            message = inbox.last(to)
            return message.code if message else None

        assert [last_code("a@x.io"), last_code("b@x.io"), last_code()] == [
            "3",
            "4",
            "4",
        ]
        assert last_code("c@x.io") is None


class TestControls:
    def test_icons(self, engine: SandboxEngine) -> None:
        icon = call(engine, "GET", "/sandbox/icons/telegram.svg")
        assert icon.headers["Content-Type"] == "image/svg+xml"
        assert icon.body.startswith(b"<svg")
        assert call(engine, "GET", "/sandbox/icons/viber.svg").status == 404

    def test_codes_checked_per_session(self, engine: SandboxEngine) -> None:
        created = call(
            engine, "POST", "/session/create", {"to": "+79991234567", "type": "sms"}
        ).json()
        session_id = created["session_id"]
        for code in ("000000", "111111", engine.last_code("+79991234567")):
            call(
                engine,
                "POST",
                "/session/check",
                {"session_id": session_id, "code": code},
            )
        reply = call(engine, "GET", "/sandbox/sessions")
        assert reply.json() == {"checks": {session_id: 3}}

    def test_clock(self, engine: SandboxEngine) -> None:
        before = engine.now()
        reply = call(engine, "POST", "/sandbox/clock", {"advance": 30})
        assert reply.json()["now"] == before + 30
        assert call(engine, "POST", "/sandbox/clock", {"advance": -1}).status == 400
        with pytest.raises(ValueError):
            engine.advance(-5)

    def test_reset_forgets_all_but_the_configuration(
        self, engine: SandboxEngine, kodmobi: KodMobiClient
    ) -> None:
        phone = "+79990000010"
        first = kodmobi.create_session(phone, channel="sms")
        engine.advance(engine.config.session_ttl + 1)
        # Sending first, kod.mobi picks the channel the phone used last.
        assert kodmobi.create_session(phone).sent_to == "sms"
        # Unless the phone left that messenger since.
        engine.advance(engine.config.session_ttl + 1)
        engine.project.set_reachable(phone, ["telegram", "whatsapp"])
        assert kodmobi.create_session(phone).sent_to == "telegram"
        engine.project.set_reachable(phone, ["sms"])
        engine.faults.add(Fault(FaultKind.ERROR, frozenset({"create"}), status=500))
        now = engine.now()

        engine.reset()

        assert engine.inbox.messages() == [] and engine.faults.active() == []
        assert engine.calls == {} and engine.now() == now
        # The first reachable channel again (Telegram, connected in the
        # configuration), and no session from before.
        assert kodmobi.create_session(phone).sent_to == "telegram"
        assert engine.project.code_for(phone) == engine.last_code(phone)
        with pytest.raises(KodMobiSessionExpiredError):
            kodmobi.check_code(first.session_id, "000000")

    def test_unknown_control(self, engine: SandboxEngine) -> None:
        assert call(engine, "GET", "/sandbox/nothing").status == 404
        assert call(engine, "POST", "/sandbox/clock", b"[]").status == 400

    def test_fault_controls(self, engine: SandboxEngine) -> None:
        added = call(
            engine,
            "POST",
            "/sandbox/faults",
            {"kind": "error", "operations": ["create"], "status": 502, "times": 1},
        )
        assert added.status == 201
        assert added.json()["kind"] == "error"
        assert len(call(engine, "GET", "/sandbox/faults").json()["faults"]) == 1
        assert (
            call(engine, "POST", "/session/create", {"to": "+79990000008"}).status
            == 502
        )
        assert call(engine, "GET", "/sandbox/faults").json()["faults"] == []
        call(engine, "POST", "/sandbox/faults", {"kind": "drop"})
        assert call(engine, "DELETE", "/sandbox/faults").json() == {"faults": []}

    @pytest.mark.parametrize(
        "body",
        [
            {"kind": "explode"},
            {"kind": "error", "status": 404},
            {"kind": "error", "times": 0},
            {"kind": "latency", "latency": 301},
            {"kind": "drop", "operations": "create"},
        ],
    )
    def test_bad_faults(self, engine: SandboxEngine, body: dict[str, Any]) -> None:
        assert call(engine, "POST", "/sandbox/faults", body).status == 400


class TestFaultsInProcess:
    def test_error_fault_does_no_work(self, engine: SandboxEngine, kodmobi) -> None:
        engine.faults.add(Fault(FaultKind.ERROR, frozenset({"create"}), status=500))
        with pytest.raises(KodMobiServerError):
            kodmobi.create_session("+79990000009")
        assert engine.inbox.messages() == []

    def test_malformed_reply_after_the_work(
        self, engine: SandboxEngine, kodmobi
    ) -> None:
        engine.faults.add(Fault(FaultKind.MALFORMED, times=1))
        with pytest.raises(KodMobiResponseError):
            kodmobi.create_session("+79990000010")
        assert len(engine.inbox.messages("+79990000010")) == 1

    def test_drop_after_the_work_and_no_retry(
        self, engine: SandboxEngine, kodmobi
    ) -> None:
        engine.faults.add(Fault(FaultKind.DROP, frozenset({"create"})))
        with pytest.raises(KodMobiConnectionError):
            kodmobi.create_session("+79990000011")
        assert len(engine.inbox.messages("+79990000011")) == 1

    def test_latency_beyond_the_timeout(self, engine: SandboxEngine) -> None:
        waited: list[float] = []
        engine.faults.add(Fault(FaultKind.LATENCY, latency=30))
        from django_kodmobi.sandbox import SandboxAdapter

        with sandbox_client(engine, timeout=(1, 2), max_retries=0) as client:
            client.session.mount(
                client.base_url, SandboxAdapter(engine, sleep=waited.append)
            )
            with pytest.raises(KodMobiTimeoutError):
                client.get_settings()
        assert waited == [2]

    def test_latency_within_the_timeout(self, engine: SandboxEngine) -> None:
        waited: list[float] = []
        engine.faults.add(Fault(FaultKind.LATENCY, latency=0.5, times=1))
        from django_kodmobi.sandbox import SandboxAdapter

        with sandbox_client(engine) as client:
            client.session.mount(
                client.base_url, SandboxAdapter(engine, sleep=waited.append)
            )
            assert client.get_settings().code.length == 6
        assert waited == [0.5]

    def test_fault_only_for_named_operations(
        self, engine: SandboxEngine, kodmobi
    ) -> None:
        engine.faults.add(Fault(FaultKind.ERROR, frozenset({"check"})))
        assert kodmobi.create_session("+79990000012").sent_to == "telegram"


class TestLoopbackServer:
    """Faults over a real socket, where retries are urllib3's business too."""

    def test_dropped_post_is_not_retried(
        self, sandbox_server: SandboxServer, loopback: KodMobiClient, phone: str
    ) -> None:
        sandbox_server.engine.faults.add(
            Fault(FaultKind.DROP, frozenset({"create"}), times=1)
        )
        with pytest.raises(KodMobiConnectionError):
            loopback.create_session(phone)
        # The request was handled once; a retry would have made it twice
        # (or, with the live session, answered without error).
        assert len(sandbox_server.engine.inbox.messages(phone)) == 1

    def test_dropped_get_is_retried(
        self, sandbox_server: SandboxServer, loopback: KodMobiClient
    ) -> None:
        sandbox_server.engine.faults.add(
            Fault(FaultKind.DROP, frozenset({"settings"}), times=1)
        )
        assert loopback.get_settings().code.length == 6

    def test_post_slower_than_timeout(
        self, sandbox_server: SandboxServer, phone: str
    ) -> None:
        engine = sandbox_server.engine
        engine.faults.add(
            Fault(FaultKind.LATENCY, frozenset({"create"}), latency=1.0, times=1)
        )
        with (
            KodMobiClient(
                engine.config.public_key, base_url=sandbox_server.url, timeout=(1, 0.2)
            ) as client,
            pytest.raises(KodMobiTimeoutError),
        ):
            client.create_session(phone)
        assert len(engine.inbox.messages(phone)) == 1

    def test_the_docs_request_verbatim(self, sandbox_server: SandboxServer) -> None:
        """curl --location URL --header 'x-api-key: KEY' --data '{...}'"""
        key = sandbox_server.engine.config.public_key
        reply = requests.post(
            sandbox_server.url + "/session/create",
            headers={
                "x-api-key": key,
                # What curl --data sends:
                "Content-Type": "application/x-www-form-urlencoded",
            },
            data=b'{"to": "+79990001234", "type": "telegram", "send": true}',
            timeout=5,
        )
        assert reply.status_code == 200
        body = reply.json()
        assert set(body) == {"session_id", "session_expired_at", "sent_to", "channels"}
        assert body["sent_to"] == "telegram"
        assert body["session_expired_at"].endswith("Z")
        assert {"name", "type", "is_active", "timeout", "image_url", "link"} <= set(
            body["channels"][0]
        )
        inbox = requests.get(
            sandbox_server.url + "/sandbox/inbox?to=%2B79990001234", timeout=5
        ).json()
        assert inbox["messages"][-1]["session_id"] == body["session_id"]

    def test_nothing_listening(self) -> None:
        server = SandboxServer()
        url = server.url
        server.close()
        with (
            KodMobiClient(
                "k", base_url=url, max_retries=1, sleep=lambda s: None
            ) as client,
            pytest.raises(KodMobiConnectionError),
        ):
            client.create_session("+79991234567")

    def test_oversized_body_is_refused(self, sandbox_server: SandboxServer) -> None:
        reply = requests.post(
            sandbox_server.url + "/session/create",
            data=b"x" * (1024 * 1024 + 1),
            timeout=5,
        )
        assert reply.status_code == 413

    def test_inbox_page_over_http(self, sandbox_server: SandboxServer) -> None:
        reply = requests.get(sandbox_server.url + "/sandbox/", timeout=5)
        assert reply.status_code == 200
        assert "kod.mobi sandbox inbox" in reply.text

    def test_access_log(self, capsys) -> None:
        with SandboxServer(
            SandboxEngine(SandboxConfig(echo=False)), access_log=True
        ) as server:
            requests.get(server.url + "/sandbox/inbox", timeout=5)
        assert "GET /sandbox/inbox" in capsys.readouterr().err


class TestCommandLine:
    def _options(self, *argv: str):
        import argparse

        parser = argparse.ArgumentParser()
        add_arguments(parser)
        return parser.parse_args(argv)

    def test_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("KODMOBI_PUBLIC_KEY", raising=False)
        monkeypatch.delenv("KODMOBI_SECRET_KEY", raising=False)
        config = config_from_options(self._options())
        assert config == SandboxConfig()

    def test_keys_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("KODMOBI_PUBLIC_KEY", "env-public")
        monkeypatch.setenv("KODMOBI_SECRET_KEY", "env-secret")
        config = config_from_options(self._options())
        assert (config.public_key, config.secret_key) == ("env-public", "env-secret")
        flags = config_from_options(
            self._options("--public-key", "p", "--secret-key", "s")
        )
        assert (flags.public_key, flags.secret_key) == ("p", "s")

    def test_every_option(self) -> None:
        config = config_from_options(
            self._options(
                "--channels",
                "sms,email",
                "--user",
                "+79990000000=sms,whatsapp",
                "--sms-blocked-prefix",
                "+44",
                "--telegram-bot-link",
                "https://t.me/bot",
                "--code-length",
                "4",
                "--letters",
                "--fixed-code",
                "AB12",
                "--session-ttl",
                "300",
                "--channel-timeout",
                "30",
                "--max-wrong-codes",
                "3",
                "--challenge",
                "--challenge-header",
                "X-Captcha",
                "--challenge-token",
                "ok",
                "--quiet",
                "--project-name",
                "Demo",
                "--phone-channels",
                "sms",
                "--block",
                "+79990000001",
                "--balance-empty",
            )
        )
        assert config.channels == ("sms", "email")
        assert config.users == {
            **TEST_DESTINATIONS,
            "+79990000000": frozenset({"sms", "whatsapp"}),
        }
        assert config.phone_channels == frozenset({"sms"})
        assert config.blocked == (TEST_DESTINATION_BLOCKED, "+79990000001")
        assert config.balance_empty is True
        assert config.sms_blocked_prefixes == ("+44",)
        assert (config.code_length, config.code_letters, config.fixed_code) == (
            4,
            True,
            "AB12",
        )
        assert (config.session_ttl, config.channel_timeout, config.max_wrong_codes) == (
            300,
            30,
            3,
        )
        assert (
            config.challenge_enabled,
            config.challenge_header,
            config.challenge_token,
        ) == (True, "X-Captcha", "ok")
        assert config.echo is False and config.project_name == "Demo"

    def test_no_channels_at_all(self) -> None:
        assert config_from_options(self._options("--channels", "")).channels == ()

    @pytest.mark.parametrize(
        "argv", [["--user", "nochannels"], ["--user", "+7=fax"], ["--channels", "fax"]]
    )
    def test_bad_options(self, argv: list[str], capsys) -> None:
        with pytest.raises(SystemExit):
            self._options(*argv)

    def test_main_reports_bad_config(self, capsys) -> None:
        with pytest.raises(SystemExit) as info:
            main(["--code-length", "2", "--port", "0"])
        assert info.value.code == 2
        assert "code_length" in capsys.readouterr().err

    def test_main_serves_until_interrupted(
        self, monkeypatch: pytest.MonkeyPatch, capsys
    ) -> None:
        def interrupt(self: SandboxServer) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(SandboxServer, "serve_forever", interrupt)
        assert main(["--port", "0", "--quiet"]) == 0
        err = capsys.readouterr().err
        assert "kod.mobi sandbox on http://127.0.0.1:" in err
        # What a site needs to use it: the URL and the sandbox's own keys.
        assert "KODMOBI_API_URL=http://127.0.0.1:" in err
        assert f"KODMOBI_PUBLIC_KEY={DEFAULT_PUBLIC_KEY}" in err
        assert f"KODMOBI_SECRET_KEY={DEFAULT_SECRET_KEY}" in err

    def test_the_inbox_links_back_to_the_site(self) -> None:
        engine = SandboxEngine(SandboxConfig(site_url="http://127.0.0.1:8000/"))
        assert b'href="http://127.0.0.1:8000/"' in call(engine, "GET", "/sandbox").body
        bare = SandboxEngine(SandboxConfig())
        assert b"Back to the site" not in call(bare, "GET", "/sandbox").body

    def test_help_lists_every_option(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "django_kodmobi.sandbox", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        for option in (
            "--port",
            "--public-key",
            "--secret-key",
            "--user",
            "--fixed-code",
            "--challenge",
            "--sms-blocked-prefix",
            "--code-length",
            "--phone-channels",
            "--block",
            "--balance-empty",
        ):
            assert option in result.stdout
        # The default it states is the one it has (it once named another).
        said = " ".join(result.stdout.split())
        assert "channels says, emails on email" in said
        assert "(default: whatsapp,sms)" in said


class TestClock:
    def test_sessions_are_swept(self) -> None:
        clock = FakeClock()
        engine = SandboxEngine(SandboxConfig(echo=False), clock=clock)
        with sandbox_client(engine) as client:
            first = client.create_session("+79990000100", send=False)
            token_session = client.create_session("+79990000101")
            client.check_code(
                token_session.session_id, engine.last_code("+79990000101") or ""
            )
            clock.now += 1000
            for n in range(256):
                client.create_session(f"+7999100{n:04d}", send=False)
        sessions = engine.project._sessions
        assert first.session_id not in sessions
        assert token_session.session_id not in sessions
        assert len(sessions) == 256


class TestRealism:
    """What kod.mobi does that the app's hard paths depend on."""

    def test_telegram_waits_until_the_bot_is_opened(self) -> None:
        engine = SandboxEngine(SandboxConfig(echo=False))
        with sandbox_client(engine) as client:
            session = client.create_session("+79990000010")
            assert session.sent_to == "whatsapp"
            telegram = next(c for c in session.channels if c.type == "telegram")
            assert not telegram.is_active and telegram.link.endswith(
                "/connect/telegram"
            )
            engine.project.connect("+79990000010", "telegram")
            engine.advance(61)
            assert (
                client.send_code(session.session_id, "telegram").channel.type
                == "telegram"
            )

    def test_a_channel_counting_down_shows_inactive(self) -> None:
        engine = SandboxEngine(SandboxConfig(echo=False))
        with sandbox_client(engine) as client:
            session = client.create_session("+79990000011", channel="sms")
            sms = {c.type: c for c in client.get_channels(session.session_id)}["sms"]
            assert (sms.is_active, sms.timeout) == (False, 60)
            engine.advance(60)
            sms = {c.type: c for c in client.get_channels(session.session_id)}["sms"]
            assert (sms.is_active, sms.timeout) == (True, 0)

    def test_wrong_codes_across_sessions_block_the_destination(self) -> None:
        from django_kodmobi.client import (
            KodMobiAPIError,
            KodMobiDestinationBlockedError,
        )

        engine = SandboxEngine(SandboxConfig(echo=False, destination_max_wrong_codes=7))
        to = "+79990000012"
        with sandbox_client(engine) as client:
            for round_ in range(2):
                session = client.create_session(to)
                wrong = other_code(engine.last_code(to))
                for _ in range(5 if round_ == 0 else 2):
                    with pytest.raises(KodMobiAPIError):
                        client.check_code(session.session_id, wrong)
                engine.advance(181)
            with pytest.raises(KodMobiDestinationBlockedError) as info:
                client.create_session(to)
            assert (info.value.status, info.value.retry_after) == (429, 3600 - 181)
            engine.advance(3600)
            # The block ended; the count starts again from nothing.
            for wrong_codes in (5, 1):
                session = client.create_session(to)
                wrong = other_code(engine.last_code(to))
                for _ in range(wrong_codes):
                    with pytest.raises(KodMobiAPIError):
                        client.check_code(session.session_id, wrong)
            client.create_session(to)  # 6 of 7: not blocked

    def test_a_right_code_clears_the_count(self) -> None:
        from django_kodmobi.client import KodMobiAPIError

        engine = SandboxEngine(SandboxConfig(echo=False, destination_max_wrong_codes=3))
        to = "+79990000013"
        with sandbox_client(engine) as client:
            session = client.create_session(to)
            wrong = other_code(engine.last_code(to))
            for _ in range(2):
                with pytest.raises(KodMobiAPIError):
                    client.check_code(session.session_id, wrong)
            client.check_code(session.session_id, engine.last_code(to) or "")
            session = client.create_session(to)
            for _ in range(2):
                with pytest.raises(KodMobiAPIError):
                    client.check_code(session.session_id, wrong)
            engine.advance(181)
            client.create_session(to)  # 2 of 3 since the right code: not blocked

    def test_empty_balance_and_no_channels(self) -> None:
        from django_kodmobi.client import (
            KodMobiBalanceError,
            KodMobiChannelNotEnabledError,
        )

        engine = SandboxEngine(SandboxConfig(echo=False, balance_empty=True))
        with (
            sandbox_client(engine) as client,
            pytest.raises(KodMobiBalanceError) as info,
        ):
            client.create_session("+79990000014")
        assert (info.value.status, info.value.sys_message) == (
            402,
            "ERROR_WRONG_BALANCE",
        )
        engine = SandboxEngine(SandboxConfig(echo=False, channels=()))
        with (
            sandbox_client(engine) as client,
            pytest.raises(KodMobiChannelNotEnabledError),
        ):
            client.create_session("+79990000015")

    def test_send_false_sends_nothing_even_with_a_channel(self) -> None:
        engine = SandboxEngine(SandboxConfig(echo=False))
        with sandbox_client(engine) as client:
            session = client.create_session("+79990000016", channel="sms", send=False)
        assert session.sent_to is None
        assert engine.inbox.last("+79990000016") is None

    def test_an_email_may_be_254_characters_and_no_more(self) -> None:
        engine = SandboxEngine(SandboxConfig(echo=False))
        longest = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 61
        assert len(longest) == 254
        with sandbox_client(engine) as client:
            assert client.create_session(longest, send=False).session_id
            with pytest.raises(KodMobiBadRequestError):
                client.create_session(longest + "d", send=False)

    def test_a_verify_token_dies_the_moment_its_session_expires(self) -> None:
        clock = FakeClock()
        engine = SandboxEngine(SandboxConfig(echo=False), clock=clock)
        with sandbox_client(engine) as client:
            session = client.create_session("+79990000017")
            code = engine.last_code("+79990000017")
            assert code is not None
            checked = client.check_code(session.session_id, code)
            clock.now += engine.config.session_ttl  # exactly at expiry
            with pytest.raises(KodMobiSessionExpiredError):
                client.verify_token(checked.verify_token)

    def test_manual_messages_take_the_configured_time_to_deliver(self) -> None:
        engine = SandboxEngine(SandboxConfig(echo=False, manual_delivery_seconds=5))
        with sandbox_client(engine) as client:
            sent = client.manual_send("+79990000018", "sms")
            engine.advance(4.9)
            assert client.manual_message(sent.message_id).status == "sent"
            engine.advance(0.1)
            assert client.manual_message(sent.message_id).status == "delivered"

    def test_a_drip_arrives_a_byte_at_a_time(self) -> None:
        pauses: list[float] = []
        engine = SandboxEngine(SandboxConfig(echo=False))
        engine.faults.add(Fault(FaultKind.DRIP, frozenset({"channels"}), latency=0.25))
        with sandbox_client(engine, sleep=pauses.append) as client:
            channels = client.get_channels()
        assert len(channels) == 4
        assert len(pauses) > 100 and set(pauses) == {0.25}

    def test_body_fault(self) -> None:
        engine = SandboxEngine(SandboxConfig(echo=False))
        engine.faults.add(Fault(FaultKind.BODY, body='{"nope": 1}', times=1))
        reply = call(engine, "GET", "/session/channels")
        assert (reply.status, reply.json()) == (200, {"nope": 1})
        assert Fault.from_json({"kind": "body", "body": "x"}).body == "x"
        with pytest.raises(ValueError):
            Fault.from_json({"kind": "body", "body": 7})


class TestErrorTexts:
    def test_every_refusal_the_sandbox_makes_has_its_own_text(self) -> None:
        """A refusal without a text of its own would read "Internal server
        error.", which no operator can act on."""
        import re
        from pathlib import Path

        from django_kodmobi.sandbox import texts

        package = Path(texts.__file__).parent
        made = set()
        for source in package.glob("*.py"):
            made |= set(
                re.findall(r'Refusal\(\s*"(ERROR_[A-Z_]+)"', source.read_text())
            )
        assert made, "the sandbox makes refusals"
        internal = texts.error_text("ERROR_INTERNAL", "en")
        for sys_message in sorted(made - {"ERROR_INTERNAL"}):
            for language in ("en", "ru"):
                assert texts.error_text(sys_message, language) != texts.error_text(
                    "ERROR_INTERNAL", language
                ), (sys_message, language)
        assert internal == "Internal server error."
