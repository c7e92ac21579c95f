"""Silent unknowns: a login for nobody's phone or email sends nothing, asks
kod.mobi nothing, looks like any other, and no code ever opens it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from django_kodmobi import silent
from django_kodmobi.checks import check_settings
from django_kodmobi.models import Contact, EventKind, OTPEvent, OTPSession, Purpose
from django_kodmobi.sandbox import SandboxEngine
from django_kodmobi.services import start_login

pytestmark = pytest.mark.django_db

KNOWN = "anna@example.com"
UNKNOWN = "bors@example.com"  # as long as KNOWN: replies of the same size
KNOWN_PHONE, UNKNOWN_PHONE = "+79991234567", "+79991234568"


@pytest.fixture
def silent_site(django_user_model: Any, kodmobi_sandbox: SandboxEngine) -> Any:
    anna = django_user_model.objects.create(username="anna", email=KNOWN)
    Contact.objects.create(
        user=anna, kind="phone", value=KNOWN_PHONE, verified_at=timezone.now()
    )
    kodmobi = {**settings.KODMOBI, "UNKNOWN_IDENTIFIERS": "silent"}
    with override_settings(KODMOBI=kodmobi):
        yield kodmobi_sandbox


def start(api: APIClient, identifier: str) -> Any:
    api.get(reverse("kodmobi_api:config"))
    return api.post(
        reverse("kodmobi_api:start"),
        {"identifier": identifier},
        format="json",
        HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value,
    )


def verify(api: APIClient, flow: str, code: str) -> Any:
    return api.post(
        reverse("kodmobi_api:verify"),
        {"flow": flow, "code": code},
        format="json",
        HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value,
    )


def test_nothing_is_sent_and_kodmobi_is_never_asked(
    silent_site: SandboxEngine, kodmobi_outbox: Any
) -> None:
    api = APIClient(enforce_csrf_checks=True)
    api.get(reverse("kodmobi_api:config"))  # the project's channels, for anyone
    silent_site.calls.clear()
    flow = start(api, UNKNOWN).json()["flow"]
    api.get(reverse("kodmobi_api:channels"), HTTP_X_KODMOBI_FLOW=flow)
    for _ in range(5):
        verify(api, flow, "123456")
    assert sum(silent_site.calls.values()) == 0
    assert kodmobi_outbox() == []


@pytest.mark.parametrize(
    ("known_one", "unknown_one", "channel"),
    [(KNOWN, UNKNOWN, "email"), (KNOWN_PHONE, UNKNOWN_PHONE, "telegram")],
    ids=["email", "phone"],
)
def test_the_reply_looks_like_any_other(
    silent_site: SandboxEngine, known_one: str, unknown_one: str, channel: str
) -> None:
    known = start(APIClient(enforce_csrf_checks=True), known_one)
    unknown = start(APIClient(enforce_csrf_checks=True), unknown_one)
    assert (known.status_code, unknown.status_code) == (201, 201)
    a, b = known.json(), unknown.json()
    assert a.keys() == b.keys()
    sizes = {key: (len(json.dumps(a[key])), len(json.dumps(b[key]))) for key in a}
    assert all(x == y for x, y in sizes.values()), {
        k: (a[k], b[k]) for k in a if sizes[k][0] != sizes[k][1]
    }
    assert a["channel"] == b["channel"] == channel
    assert silent_site.calls["create"] == 1  # the known one only


def test_every_code_is_wrong_as_a_wrong_one_would_be(
    silent_site: SandboxEngine,
) -> None:
    api = APIClient(enforce_csrf_checks=True)
    flow = start(api, UNKNOWN).json()["flow"]
    first = verify(api, flow, "000000")
    assert (first.status_code, first.json()["code"]) == (400, "invalid_code")
    assert first.json()["attempts_left"] == 4
    for _ in range(4):
        last = verify(api, flow, "000000")
    assert last.json()["code"] == "locked"
    row = OTPSession.objects.get(identifier=UNKNOWN)
    assert row.silent and row.failed_attempts == 5
    kinds = list(row.events.values_list("kind", "detail").order_by("at"))
    assert kinds[0] == (EventKind.CREATED, "unknown_identifier")
    assert [k for k, _ in kinds].count(EventKind.CODE_REJECTED) == 5


def test_while_kodmobi_is_down_unknowns_fail_as_known_people_do(
    silent_site: SandboxEngine, kodmobi_faults: Any
) -> None:
    kodmobi_faults.down("create")
    api = APIClient(enforce_csrf_checks=True)
    for _ in range(settings.KODMOBI.get("BREAKER_FAILURES", 5)):
        assert start(api, KNOWN).status_code == 503  # the breaker opens
    known, unknown = start(api, KNOWN), start(api, UNKNOWN)
    assert (known.status_code, unknown.status_code) == (503, 503)
    assert known.json().keys() == unknown.json().keys()
    assert known.json()["code"] == unknown.json()["code"] == "kodmobi_unavailable"


@pytest.mark.parametrize(
    "known",
    [
        pytest.param(KNOWN, id="by-a-user-field"),
        pytest.param(KNOWN_PHONE, id="by-a-verified-contact"),
    ],
)
def test_a_known_person_gets_a_code(silent_site: SandboxEngine, known: str) -> None:
    start(APIClient(enforce_csrf_checks=True), known)
    assert silent_site.last_code(known)
    flow = OTPSession.objects.get()
    assert not flow.silent
    assert not flow.events.filter(detail="unknown_identifier").exists()


def test_signup_and_the_code_setting_send_as_before(
    silent_site: SandboxEngine,
) -> None:
    with override_settings(KODMOBI={**settings.KODMOBI, "SIGNUP": True}):
        start_login(UNKNOWN)
    with override_settings(KODMOBI={**settings.KODMOBI, "UNKNOWN_IDENTIFIERS": "code"}):
        start_login("carl@example.com")
    assert silent_site.calls["create"] == 2
    assert not OTPSession.objects.filter(silent=True).exists()


def test_only_logins_are_silent(silent_site: SandboxEngine) -> None:
    start_login(UNKNOWN, purpose=Purpose.STEP_UP)
    assert silent_site.calls["create"] == 1
    assert not OTPEvent.objects.filter(detail="unknown_identifier").exists()


def test_it_takes_as_long_as_kodmobi_does(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("django_kodmobi.silent.time.sleep", slept.append)
    monkeypatch.setattr(silent, "_typical", silent._TYPICAL_SECONDS)
    for _ in range(50):
        silent.observe(0.04)
    for _ in range(100):
        silent.pause()
    assert all(0.036 * 0.99 <= s <= 0.044 * 1.01 for s in slept), (
        min(slept),
        max(slept),
    )


@pytest.mark.parametrize("value", ["quiet", None, True])
def test_bad_setting(value: Any) -> None:
    kodmobi = {"PUBLIC_KEY": "pk", "SECRET_KEY": "sk", "UNKNOWN_IDENTIFIERS": value}
    with override_settings(KODMOBI=kodmobi):
        errors = [m.id for m in check_settings() if str(m.id).startswith("kodmobi.E")]
        assert errors == ["kodmobi.E003"]
