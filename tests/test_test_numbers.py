"""TEST_NUMBERS: fixed codes for app-store review, never sent, every guard
of a login still in force, and refused in production unless meant."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from django_kodmobi.checks import check_settings
from django_kodmobi.client import KodMobiAuthenticationError
from django_kodmobi.models import EventKind, OTPEvent, OTPSession
from django_kodmobi.sandbox import SandboxEngine
from django_kodmobi.test_numbers import FixedCodeClient

pytestmark = pytest.mark.django_db

REVIEWER = "review@example.com"
CODE = "246810"


@pytest.fixture
def reviewer(django_user_model: Any, kodmobi_sandbox: SandboxEngine) -> Any:
    with override_settings(
        KODMOBI={**settings.KODMOBI, "TEST_NUMBERS": {"Review@Example.com": CODE}}
    ):
        yield django_user_model.objects.create(username="review", email=REVIEWER)


def start(client: Any, identifier: str = REVIEWER) -> Any:
    return client.post("/accounts/login/", {"identifier": identifier})


def test_the_fixed_code_logs_in_and_kodmobi_is_never_called(
    client: Any, reviewer: Any, kodmobi_sandbox: SandboxEngine, kodmobi_outbox: Any
) -> None:
    assert start(client).status_code == 302
    resent = client.post("/accounts/login/resend/", {"channel": "email"})
    assert resent.status_code in (200, 302)
    done = client.post("/accounts/login/code/", {"code": CODE})
    assert done.status_code == 302
    assert client.get("/").wsgi_request.user == reviewer
    assert sum(kodmobi_sandbox.calls.values()) == 0  # not one request
    assert kodmobi_outbox() == []
    # The audit says what it was.
    created = OTPEvent.objects.get(kind=EventKind.CREATED)
    assert created.detail == "test_number"


def test_other_identifiers_still_go_to_kodmobi(
    client: Any, reviewer: Any, kodmobi_sandbox: SandboxEngine, django_user_model: Any
) -> None:
    django_user_model.objects.create(username="anna", email="anna@example.com")
    start(client, "anna@example.com")
    assert kodmobi_sandbox.calls["create"] == 1
    assert OTPEvent.objects.get(kind=EventKind.CREATED).detail == ""


def test_wrong_codes_count_and_lock_as_any_others(
    client: Any, reviewer: Any, kodmobi_sandbox: SandboxEngine
) -> None:
    start(client)
    for _ in range(settings.KODMOBI.get("MAX_ATTEMPTS", 5)):
        client.post("/accounts/login/code/", {"code": "135790"})
    flow = OTPSession.objects.get()
    assert flow.failed_attempts == 5 and flow.status == "locked"
    # The right code after the budget is spent changes nothing.
    client.post("/accounts/login/code/", {"code": CODE})
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert sum(kodmobi_sandbox.calls.values()) == 0


def test_a_forged_verify_token_is_refused() -> None:
    client = FixedCodeClient(REVIEWER, CODE)
    token = client.check_code("01JTEST", CODE).verify_token
    assert client.verify_token(token).destination == REVIEWER
    with pytest.raises(KodMobiAuthenticationError):
        client.verify_token("01JOTHER." + token.partition(".")[2])


def ids(debug: bool, **kodmobi: Any) -> list[str]:
    with override_settings(
        DEBUG=debug, KODMOBI={"PUBLIC_KEY": "pk", "SECRET_KEY": "sk", **kodmobi}
    ):
        return [
            str(m.id) for m in check_settings() if str(m.id).startswith("kodmobi.E")
        ]


def test_refused_in_production_unless_meant() -> None:
    numbers = {"TEST_NUMBERS": {"+79990000000": CODE}}
    assert ids(True, **numbers) == []
    assert ids(False, **numbers) == ["kodmobi.E014"]
    assert ids(False, **numbers, TEST_NUMBERS_IN_PRODUCTION=True) == []
    assert ids(False) == []


@pytest.mark.parametrize(
    "numbers",
    [
        {"+79990000000": "2468"},  # not CODE_LENGTH
        {"+79990000000": 246810},  # not a string
        {"not a phone": CODE},
        ["+79990000000"],
    ],
)
def test_bad_test_numbers(numbers: Any) -> None:
    assert ids(True, TEST_NUMBERS=numbers) == ["kodmobi.E003"]
