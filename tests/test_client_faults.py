"""Raw HTTP faults, with ``responses``: what the client raises and retries."""

from __future__ import annotations

import gzip
import json
import logging
import random
import time

import pytest
import requests
import responses
from urllib3.exceptions import (
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from django_kodmobi.client import (
    KodMobiAPIError,
    KodMobiClient,
    KodMobiConnectionError,
    KodMobiError,
    KodMobiRateLimitError,
    KodMobiResponseError,
    KodMobiServerError,
    KodMobiTimeoutError,
)

from .helpers import reply_cut_off

BASE = "https://kodmobi.test"
SESSION = {
    "session_id": "01JABCDEFGHJKMNPQRSTVWXYZ0",
    "session_expired_at": "2025-10-28T09:22:48.950Z",
    "sent_to": "telegram",
    "channels": [],
}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]):
    with KodMobiClient(
        "public", "secret", base_url=BASE, max_retries=2, sleep=sleeps.append
    ) as client:
        yield client


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(reason)


def _reset() -> requests.ConnectionError:
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    )


class TestRequestShape:
    def test_headers_body_and_timeout(self, client, mocked) -> None:
        mocked.post(f"{BASE}/session/create", json=SESSION)
        client.create_session(
            "+79991234567", channel="sms", language="ru", challenge_token="captcha"
        )
        request = mocked.calls[0].request
        assert request.headers["x-api-key"] == "public"
        assert request.headers["Accept-Language"] == "ru"
        assert request.headers["X-CF-TURNSTILE-TOKEN"] == "captcha"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"].startswith("django-kodmobi/")
        # A compressed reply would slip past the size cap, read as it comes.
        assert request.headers["Accept-Encoding"] == "identity"
        assert request.headers["Accept"] == "application/json"
        assert json.loads(request.body) == {
            "to": "+79991234567",
            "send": True,
            "type": "sms",
        }
        # The read timeout is the lesser of 10 s and what the deadline leaves.
        connect, read = request.req_kwargs["timeout"]
        assert connect == 3.05
        assert 9.9 < read <= 10.0

    def test_no_wait_outlasts_a_short_deadline(self, mocked) -> None:
        mocked.post(f"{BASE}/session/create", json=SESSION)
        with KodMobiClient("public", base_url=BASE, deadline=4.0) as hurried:
            hurried.create_session("+79991234567")
        connect, read = mocked.calls[0].request.req_kwargs["timeout"]
        assert connect == 3.05 and 3.9 < read <= 4.0

    def test_secret_routes_use_the_secret_key(self, client, mocked) -> None:
        mocked.post(f"{BASE}/session/verify", json={"to": "+79991234567"})
        client.verify_token("token")
        assert mocked.calls[0].request.headers["x-api-key"] == "secret"

    def test_manual_send_passes_every_option_given(self, client, mocked) -> None:
        mocked.post(f"{BASE}/manual/send", json={"message_id": 7})
        mocked.post(f"{BASE}/manual/send", json={"message_id": 8})
        client.manual_send(
            "+79991234567",
            "sms",
            code="1234",
            provider_id=3,
            callback_url="https://example.com/kodmobi/callback/",
        )
        client.manual_send("+79991234567", "sms")
        given, bare = (json.loads(call.request.body) for call in mocked.calls)
        assert given == {
            "to": "+79991234567",
            "channel": "sms",
            "code": "1234",
            "provider_id": 3,
            "callback_url": "https://example.com/kodmobi/callback/",
        }
        assert bare == {"to": "+79991234567", "channel": "sms"}
        assert mocked.calls[0].request.headers["x-api-key"] == "secret"

    def test_paths_can_be_overridden(self, mocked) -> None:
        mocked.post(f"{BASE}/v2/check", json={"verify_token": "t", "is_test": False})
        with KodMobiClient("k", base_url=BASE + "/", paths={"check": "/v2/check"}) as c:
            assert c.check_code("s", "1").verify_token == "t"

    def test_query_parameters(self, client, mocked) -> None:
        mocked.get(f"{BASE}/session/channels", json=[])
        client.get_channels()
        assert mocked.calls[0].request.url == f"{BASE}/session/channels?session_id="

    def test_custom_challenge_header(self, mocked) -> None:
        mocked.post(f"{BASE}/session/check", json={"verify_token": "t"})
        with KodMobiClient("k", base_url=BASE, challenge_header="X-Captcha") as c:
            c.check_code("s", "1", challenge_token="tok")
        assert mocked.calls[0].request.headers["X-Captcha"] == "tok"


class TestConstructor:
    @pytest.mark.parametrize(
        ("args", "kwargs", "message"),
        [
            (("",), {}, "public key is required"),
            ((" \t",), {}, "public key is required"),
            (("k",), {"base_url": "ftp://x"}, r"http\(s\) URL"),
            (("k",), {"timeout": 0}, "positive"),
            (("k",), {"timeout": (1.0, -1.0)}, "positive"),
            (("k",), {"max_retries": -1}, "negative"),
            (("k",), {"paths": {"nope": "/x"}}, "unknown kod.mobi operation"),
            (("k",), {"paths": {"check": "v2/check"}}, "must start with '/'"),
        ],
    )
    def test_refuses_bad_options(self, args, kwargs, message) -> None:
        with pytest.raises(ValueError, match=message):
            KodMobiClient(*args, **kwargs)

    def test_edges_of_the_options(self) -> None:
        with KodMobiClient("k", timeout=0.5) as client:
            assert client.timeout == (0.5, 0.5)
        with pytest.raises(ValueError, match="deadline must be a positive"):
            KodMobiClient("k", deadline=0)

    def test_defaults_english_and_two_retries(self, mocked, sleeps) -> None:
        mocked.get(f"{BASE}/session/channels", status=503, body="")
        with (
            KodMobiClient("k", base_url=BASE, sleep=sleeps.append) as client,
            pytest.raises(KodMobiServerError),
        ):
            client.get_channels()
        assert len(mocked.calls) == 3
        assert mocked.calls[0].request.headers["Accept-Language"] == "en"

    def test_repr_hides_the_keys(self) -> None:
        with KodMobiClient("pub-key-value", "sec-key-value") as client:
            assert "key-value" not in repr(client)

    def test_reads_proxies_from_the_environment_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/site-ca.pem")
        with KodMobiClient("k") as client:
            assert client.session.proxies == {"https": "http://proxy.internal:3128"}
            assert client.session.verify == "/etc/ssl/site-ca.pem"
            assert not client.session.trust_env  # not again per request
        monkeypatch.setenv("NO_PROXY", "api.kod.mobi")
        with KodMobiClient("k") as client:
            assert client.session.proxies == {}

    def test_closes_its_own_session_and_not_one_it_was_given(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        closed: list[requests.Session] = []

        def note_close(session: requests.Session) -> None:
            closed.append(session)

        monkeypatch.setattr(requests.Session, "close", note_close)
        given = requests.Session()
        KodMobiClient("k", session=given).close()
        assert closed == []
        with KodMobiClient("k") as client:
            own = client.session
        assert closed == [own]


class TestTransportFaults:
    def test_read_timeout_on_post_is_not_retried(self, client, mocked, sleeps) -> None:
        mocked.post(f"{BASE}/session/create", body=requests.ReadTimeout("slow"))
        with pytest.raises(KodMobiTimeoutError) as info:
            client.create_session("+79991234567")
        assert isinstance(info.value, TimeoutError)
        assert isinstance(info.value, KodMobiConnectionError)
        assert len(mocked.calls) == 1
        assert sleeps == []

    def test_reset_after_sending_a_post_is_not_retried(self, client, mocked) -> None:
        mocked.post(f"{BASE}/session/check", body=_reset())
        with pytest.raises(KodMobiConnectionError) as info:
            client.check_code("s", "123456")
        assert not isinstance(info.value, KodMobiTimeoutError)
        assert len(mocked.calls) == 1

    def test_post_is_retried_when_never_connected(self, client, mocked, sleeps) -> None:
        mocked.post(f"{BASE}/session/create", body=_refused())
        mocked.post(f"{BASE}/session/create", body=requests.ConnectTimeout("syn"))
        mocked.post(f"{BASE}/session/create", json=SESSION)
        session = client.create_session("+79991234567")
        assert session.session_id == SESSION["session_id"]
        assert len(mocked.calls) == 3
        assert len(sleeps) == 2
        assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0

    def test_pauses_double_up_to_the_cap_and_never_outlast_the_deadline(
        self, mocked, sleeps, monkeypatch
    ) -> None:
        monkeypatch.setattr(random, "uniform", lambda low, high: high)  # no jitter
        mocked.post(f"{BASE}/session/create", body=_refused())
        with (
            KodMobiClient(
                "public",
                base_url=BASE,
                max_retries=4,
                backoff=(0.5, 1.5),
                sleep=sleeps.append,
            ) as patient,
            pytest.raises(KodMobiConnectionError),
        ):
            patient.create_session("+79991234567")
        assert sleeps == [0.5, 1.0, 1.5, 1.5]
        sleeps.clear()
        # The first pause would end after the deadline: no pause, no retry.
        with (
            KodMobiClient(
                "public", base_url=BASE, deadline=0.4, sleep=sleeps.append
            ) as hurried,
            pytest.raises(KodMobiTimeoutError, match="0.4 s deadline"),
        ):
            hurried.create_session("+79991234567")
        assert sleeps == [] and len(mocked.calls) == 5 + 1

    def test_retries_are_bounded(self, client, mocked, sleeps) -> None:
        mocked.post(f"{BASE}/session/create", body=_refused())
        with pytest.raises(KodMobiConnectionError):
            client.create_session("+79991234567")
        assert len(mocked.calls) == 3

    def test_tls_errors_are_not_retried(self, client, mocked) -> None:
        mocked.get(
            f"{BASE}/session/channels", body=requests.exceptions.SSLError("bad cert")
        )
        with pytest.raises(KodMobiConnectionError):
            client.get_channels()
        assert len(mocked.calls) == 1

    def test_get_is_retried_after_reset_timeout_and_5xx(self, client, mocked) -> None:
        mocked.get(f"{BASE}/session/channels", body=_reset())
        mocked.get(f"{BASE}/session/channels", status=503, body="busy")
        mocked.get(f"{BASE}/session/channels", json=[])
        assert client.get_channels() == ()
        assert len(mocked.calls) == 3

    def test_only_gateway_errors_are_retried_and_each_reply_is_let_go(
        self, client, mocked, monkeypatch
    ) -> None:
        closed: list[int] = []
        close = requests.Response.close

        def note_close(reply: requests.Response) -> None:
            closed.append(reply.status_code)
            close(reply)

        monkeypatch.setattr(requests.Response, "close", note_close)
        mocked.get(f"{BASE}/session/channels", status=503, body="busy")
        with pytest.raises(KodMobiServerError):
            client.get_channels()
        # Three tries (max_retries=2), each reply closed: its connection
        # goes back to the pool.
        assert (len(mocked.calls), closed) == (3, [503, 503, 503])
        mocked.get(f"{BASE}/session/settings", status=501, body="no")
        with pytest.raises(KodMobiServerError):
            client.get_settings()
        assert len(mocked.calls) == 4  # not a gateway's error: not retried

    def test_get_gives_up_after_the_retries(self, client, mocked) -> None:
        mocked.get(f"{BASE}/session/settings", body=requests.ReadTimeout("slow"))
        with pytest.raises(KodMobiTimeoutError):
            client.get_settings()
        assert len(mocked.calls) == 3

    def test_post_5xx_is_not_retried(self, client, mocked) -> None:
        mocked.post(f"{BASE}/session/send", status=502, body="<html>Bad gateway</html>")
        with pytest.raises(KodMobiServerError) as info:
            client.send_code("s", "sms")
        assert info.value.status == 502
        assert info.value.sys_message == ""
        assert len(mocked.calls) == 1

    def test_as_requests_wraps_them_through_urllib3s_retries(
        self, client, mocked
    ) -> None:
        """requests raises ConnectionError(MaxRetryError(reason=...)): the
        reason decides, as for the bare errors above."""

        def wrapped(reason: Exception) -> requests.ConnectionError:
            return requests.ConnectionError(MaxRetryError(None, "/", reason))  # type: ignore[arg-type]

        refused = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
        mocked.post(f"{BASE}/session/create", body=wrapped(refused))
        mocked.post(f"{BASE}/session/create", json=SESSION)
        assert client.create_session("+79991234567").session_id  # retried
        slow = ReadTimeoutError(None, "/", "read timed out")  # type: ignore[arg-type]
        mocked.post(f"{BASE}/session/create", body=wrapped(slow))
        with pytest.raises(KodMobiTimeoutError, match="timed out: ConnectionError"):
            client.create_session("+79991234567")
        assert len(mocked.calls) == 3  # a POST that may have arrived: not again

    def test_timeout_while_reading_the_body(self, client, mocked) -> None:
        mocked.post(
            f"{BASE}/session/create",
            body=requests.ConnectionError(
                ReadTimeoutError(None, "/", "read timed out")  # type: ignore[arg-type]
            ),
        )
        with pytest.raises(KodMobiTimeoutError):
            client.create_session("+79991234567")

    def test_no_retries_when_disabled(self, mocked) -> None:
        mocked.get(f"{BASE}/session/channels", body=_refused())
        with (
            KodMobiClient("k", base_url=BASE, max_retries=0) as c,
            pytest.raises(KodMobiConnectionError),
        ):
            c.get_channels()
        assert len(mocked.calls) == 1


class TestRepliesCutOff:
    """urllib3 raises its own errors while a body is read (requests wraps
    them only inside iter_content): they must come out as kod.mobi errors,
    or the breaker, the flow's record and the 503 would all miss them."""

    @pytest.mark.parametrize("how", ["close", "reset"])
    def test_a_body_that_breaks_off_is_a_connection_error(self, how: str) -> None:
        with (
            reply_cut_off(how) as url,
            KodMobiClient("k", base_url=url) as client,
            pytest.raises(KodMobiConnectionError, match="broke off: ProtocolError"),
        ):
            client.create_session("+79991234567")

    def test_a_body_that_stalls_past_the_read_timeout_is_a_timeout(self) -> None:
        with (
            reply_cut_off("stall") as url,
            KodMobiClient("k", base_url=url, timeout=(1.0, 0.5)) as client,
            pytest.raises(KodMobiTimeoutError),
        ):
            client.create_session("+79991234567")

    def test_each_read_waits_only_what_is_left_of_the_deadline(self) -> None:
        """A byte every 1.9 s, a 2 s deadline and a 5 s read timeout: each
        read alone is within the read timeout, so only a read timeout cut to
        what is left of the deadline ends the call at 2 s (3.8 s before)."""
        with (
            reply_cut_off("trickle") as url,
            KodMobiClient("k", base_url=url, timeout=(1.0, 5.0), deadline=2.0) as c,
        ):
            started = time.monotonic()
            with pytest.raises(KodMobiTimeoutError):
                c.create_session("+79991234567")
            elapsed = time.monotonic() - started
        assert elapsed < 3.0, elapsed


class TestMalformedReplies:
    @pytest.mark.parametrize(
        "body",
        [
            "not json",
            "",
            "[]",
            '{"session_id": 5}',
            '{"session_id": "x", "session_expired_at": "yesterday"}',
            '{"session_id": "x", "session_expired_at": "2025-10-28T09:22:48"}',
            '{"session_id": "x", "session_expired_at": 1761643368}',
            '{"session_id": "x", "session_expired_at": "2025-10-28T09:22:48Z", "sent_to": 1}',
            '{"session_id": "x", "session_expired_at": "2025-10-28T09:22:48Z", "channels": {}}',
            '{"session_id": "x", "session_expired_at": "2025-10-28T09:22:48Z", "channels": [1]}',
            '{"session_id": "x", "session_expired_at": "2025-10-28T09:22:48Z", "channels": [{"type": "sms", "is_active": "yes"}]}',
            '{"session_id": "x", "session_expired_at": "2025-10-28T09:22:48Z", "channels": [{"type": "sms", "is_active": true, "timeout": true}]}',
        ],
    )
    def test_create(self, client, mocked, body: str) -> None:
        mocked.post(f"{BASE}/session/create", body=body, status=200)
        with pytest.raises(KodMobiResponseError):
            client.create_session("+79991234567")

    @pytest.mark.parametrize(
        "payload",
        [
            {},
            {"success": True, "data": {}},
            {"to": ""},
            {"to": 79991234567},
            {"phone": None},
        ],
    )
    def test_verify_without_destination_fails_closed(
        self, client, mocked, payload
    ) -> None:
        mocked.post(f"{BASE}/session/verify", json=payload)
        with pytest.raises(KodMobiResponseError, match="no destination"):
            client.verify_token("token")

    @pytest.mark.parametrize("payload", [{}, {"verify_token": ""}, {"verify_token": 1}])
    def test_check_without_token(self, client, mocked, payload) -> None:
        mocked.post(f"{BASE}/session/check", json=payload)
        with pytest.raises(KodMobiResponseError):
            client.check_code("s", "1")

    def test_a_reply_may_fill_the_cap_and_no_more(self, mocked) -> None:
        mocked.get(f"{BASE}/session/channels", body="[" + " " * 8 + "]")
        mocked.get(f"{BASE}/session/channels", body="[" + " " * 9 + "]")
        with KodMobiClient("k", base_url=BASE, max_response_bytes=10) as small:
            assert small.get_channels() == ()
            with pytest.raises(KodMobiResponseError, match="larger than 10") as info:
                small.get_channels()
        assert info.value.status == 200

    def test_a_compressed_reply_is_refused(self, client, mocked) -> None:
        mocked.get(
            f"{BASE}/session/channels",
            body=gzip.compress(b"[]"),
            headers={"Content-Encoding": "gzip"},
        )
        with pytest.raises(KodMobiResponseError, match="compressed") as info:
            client.get_channels()
        assert info.value.status == 200

    def test_oversized_reply(self, client, mocked) -> None:
        mocked.get(f"{BASE}/session/channels", body="[" + " " * 70_000 + "]")
        with pytest.raises(KodMobiResponseError, match="larger than"):
            client.get_channels()

    @pytest.mark.parametrize("status", [201, 299])
    def test_any_2xx_is_an_answer(self, client, mocked, status: int) -> None:
        mocked.get(f"{BASE}/session/channels", status=status, json=[])
        assert client.get_channels() == ()

    @pytest.mark.parametrize("status", [300, 399])
    def test_a_3xx_is_no_answer(self, client, mocked, status: int) -> None:
        mocked.get(f"{BASE}/session/channels", status=status, body="[]")
        with pytest.raises(
            KodMobiResponseError, match=f"unexpected HTTP {status}"
        ) as info:
            client.get_channels()
        assert info.value.status == status

    def test_redirect_is_not_followed(self, client, mocked) -> None:
        mocked.get(
            f"{BASE}/session/channels",
            status=302,
            headers={"Location": "http://evil.test/"},
            body="",
        )
        with pytest.raises(KodMobiResponseError, match="unexpected HTTP 302"):
            client.get_channels()

    def test_manual_message_wrong_shape(self, client, mocked) -> None:
        mocked.get(f"{BASE}/manual/message/1", json={"id": "1", "status": "x"})
        with pytest.raises(KodMobiResponseError):
            client.manual_message(1)

    def test_every_failure_is_a_kodmobi_error(self, client, mocked) -> None:
        mocked.post(f"{BASE}/session/create", body="garbage")
        with pytest.raises(KodMobiError, match="reply is not JSON"):
            client.create_session("+79991234567")


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "body", "cls"),
        [
            (418, {"sys_message": "ERROR_SOMETHING_NEW"}, KodMobiAPIError),
            (429, {}, KodMobiRateLimitError),
            (500, {"sys_message": "ERROR_UNKNOWN"}, KodMobiServerError),
            (400, ["not", "an", "object"], KodMobiAPIError),
        ],
    )
    def test_fallbacks(self, client, mocked, status, body, cls) -> None:
        mocked.post(f"{BASE}/session/send", status=status, json=body)
        with pytest.raises(cls) as info:
            client.send_code("s", "sms")
        assert info.value.status == status

    def test_sys_message_beats_the_status(self, client, mocked) -> None:
        mocked.post(
            f"{BASE}/session/check",
            status=418,
            json={
                "sys_message": "ERROR_MESSAGE_ATTEMPT",
                "error": "wait",
                "error_params": {"timeout": 12},
            },
        )
        with pytest.raises(KodMobiRateLimitError) as info:
            client.check_code("s", "1")
        assert info.value.retry_after == 12
        assert str(info.value) == "HTTP 418 ERROR_MESSAGE_ATTEMPT: wait"
        assert "retry" not in repr(
            info.value
        ) and "KodMobiRateLimitError(status=418" in repr(info.value)

    def test_odd_error_params(self, client, mocked) -> None:
        mocked.post(
            f"{BASE}/session/send",
            status=429,
            json={
                "sys_message": "ERROR_MESSAGE_ATTEMPT",
                "error_params": {"timeout": True},
            },
        )
        with pytest.raises(KodMobiRateLimitError) as info:
            client.send_code("s", "sms")
        assert info.value.retry_after is None
        assert str(info.value).startswith(
            "HTTP 429 ERROR_MESSAGE_ATTEMPT: kod.mobi answered HTTP 429"
        )

    def test_missing_sys_message_in_str(self, client, mocked) -> None:
        mocked.post(f"{BASE}/session/send", status=400, json={"error_params": []})
        with pytest.raises(KodMobiAPIError) as info:
            client.send_code("s", "sms")
        assert "no sys_message" in str(info.value)
        assert info.value.error_params == {}


class TestLogging:
    @pytest.mark.parametrize(
        ("status", "level"),
        [(429, logging.INFO), (499, logging.INFO), (500, logging.WARNING)],
    )
    def test_a_refusal_is_news_a_failure_a_warning(
        self, client, mocked, caplog, status: int, level: int
    ) -> None:
        mocked.post(f"{BASE}/session/create", status=status, json={"error": "no"})
        with (
            caplog.at_level(logging.DEBUG, "django_kodmobi"),
            pytest.raises(KodMobiAPIError),
        ):
            client.create_session("+79991234567")
        assert [r.levelno for r in caplog.records] == [level]

    def test_no_answer_at_all_is_a_warning(self, client, mocked, caplog) -> None:
        mocked.post(f"{BASE}/session/create", body=_reset())
        with (
            caplog.at_level(logging.DEBUG, "django_kodmobi"),
            pytest.raises(KodMobiConnectionError),
        ):
            client.create_session("+79991234567")
        assert [r.levelno for r in caplog.records] == [logging.WARNING]

    def test_failures_are_logged_masked(self, client, mocked, caplog) -> None:
        mocked.post(f"{BASE}/session/create", status=503, body="down")
        with (
            caplog.at_level(logging.DEBUG, "django_kodmobi"),
            pytest.raises(KodMobiServerError),
        ):
            client.create_session("+79991234567")
        text = caplog.text
        assert "+7******4567" in text
        assert "79991234567" not in text
        assert "public" not in text and "secret" not in text
