"""The test kit sites get: the pytest plugin's fixtures and the unittest mixin.

The plugin is found through its ``pytest11`` entry point, as in a site's own
suite: nothing here imports it.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import TestCase, override_settings

from django_kodmobi.models import OTPSession, Purpose
from django_kodmobi.sandbox import SandboxEngine
from django_kodmobi.services.manual import send_code as manual_send
from django_kodmobi.testing import KodMobiTestMixin, SentCode

pytestmark = pytest.mark.django_db

EMAIL = "anna@example.com"
PHONE = "+79991234567"  # the suite's phones belong to nobody: see tests/users.py


@pytest.fixture
def anna(django_user_model: Any) -> Any:
    return django_user_model.objects.create(username="anna", email=EMAIL)


def log_in(client: Any, identifier: str, code_for: Any) -> Any:
    client.post("/accounts/login/", {"identifier": identifier})
    return client.post("/accounts/login/code/", {"code": code_for(identifier)})


def test_the_plugin_is_registered_for_pytest() -> None:
    plugins = {e.name: e.value for e in entry_points(group="pytest11")}
    assert plugins["django_kodmobi"] == "django_kodmobi.pytest_plugin"


@pytest.mark.usefixtures("anna")
def test_a_login_with_the_last_code(client: Any, kodmobi_code: Any) -> None:
    done = log_in(client, EMAIL, kodmobi_code)
    assert done.status_code == 302
    assert client.get("/").wsgi_request.user.is_authenticated


@pytest.mark.usefixtures("anna")
def test_the_outbox_names_the_purpose(
    client: Any, kodmobi_outbox: Any, kodmobi_code: Any, kodmobi_sandbox: SandboxEngine
) -> None:
    log_in(client, EMAIL, kodmobi_code)
    manual_send(PHONE, "123456", purpose="allauth")
    sent = kodmobi_outbox()
    assert [(s.to, s.purpose) for s in sent] == [
        (EMAIL, Purpose.LOGIN),
        (PHONE, "allauth"),
    ]
    assert sent[0] == SentCode(EMAIL, "email", sent[0].code, "login")
    assert sent[1].code == "123456"
    assert kodmobi_sandbox.calls["create"] == 1


def test_each_test_starts_with_an_empty_outbox(kodmobi_outbox: Any) -> None:
    assert kodmobi_outbox() == []


def test_no_code_is_an_assertion_error(kodmobi_code: Any) -> None:
    with pytest.raises(AssertionError, match="delivered nothing"):
        kodmobi_code(PHONE)


def test_kodmobi_down(client: Any, kodmobi_faults: Any, kodmobi_outbox: Any) -> None:
    kodmobi_faults.down("create")
    page = client.post("/accounts/login/", {"identifier": PHONE})
    assert page.status_code == 503
    assert kodmobi_outbox() == []
    kodmobi_faults.clear()
    assert client.post("/accounts/login/", {"identifier": PHONE}).status_code == 302


@pytest.mark.parametrize("switch", ["out_of_balance", "no_channels"])
def test_sending_unavailable(client: Any, kodmobi_faults: Any, switch: str) -> None:
    getattr(kodmobi_faults, switch)()
    page = client.post("/accounts/login/", {"identifier": PHONE})
    assert "can&#x27;t send codes right now" in page.content.decode()


def test_a_blocked_destination(client: Any, kodmobi_faults: Any) -> None:
    kodmobi_faults.block(PHONE, 570)  # 9.5 minutes: said as 10, never 9
    page = client.post("/accounts/login/", {"identifier": PHONE})
    said = page.content.decode().replace("\xa0", " ")
    assert "this phone number or email. Try again in 10 minutes." in said


def test_a_phone_with_sms_only(
    client: Any, kodmobi_faults: Any, kodmobi_outbox: Any
) -> None:
    kodmobi_faults.reachable_on(PHONE, "sms")
    client.post("/accounts/login/", {"identifier": PHONE})
    assert [s.channel for s in kodmobi_outbox()] == ["sms"]


def test_slow_kodmobi_still_answers(
    client: Any, kodmobi_faults: Any, kodmobi_sandbox: SandboxEngine
) -> None:
    kodmobi_faults.slow(0.05, "create")
    assert [f.kind.value for f in kodmobi_sandbox.faults.active()] == ["latency"]
    page = client.post("/accounts/login/", {"identifier": EMAIL})
    assert page.status_code == 302


@override_settings(
    KODMOBI={
        "API_URL": "https://api.kod.mobi",
        "PUBLIC_KEY": "k",
        "UNKNOWN_IDENTIFIERS": "code",  # test_faults starts for nobody's email
    }
)
class MixinTests(KodMobiTestMixin, TestCase):
    """Settings that name the real kod.mobi: the mixin still answers in-process."""

    def test_a_login(self) -> None:
        User.objects.create(username="anna", email=EMAIL)
        self.client.post("/accounts/login/", {"identifier": EMAIL})
        self.assertEqual(self.kodmobi.calls["create"], 1)
        code = self.kodmobi_code(EMAIL)
        done = self.client.post("/accounts/login/code/", {"code": code})
        self.assertEqual(done.status_code, 302)
        self.assertEqual(
            self.kodmobi_outbox(), [SentCode(EMAIL, "email", code, "login")]
        )
        self.assertEqual(OTPSession.objects.get().status, "consumed")

    def test_faults(self) -> None:
        self.kodmobi_faults.down()
        page = self.client.post("/accounts/login/", {"identifier": EMAIL})
        self.assertEqual(page.status_code, 503)
