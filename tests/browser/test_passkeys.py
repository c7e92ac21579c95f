"""Passkeys in Chromium with a virtual authenticator (the CDP WebAuthn
domain): made in one gesture after the first code, then a login with no
call to kod.mobi; every refusal the server owes, seen from the page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from django_kodmobi.models import Passkey, PasskeyEvent
from tests.passkey_helpers import add_virtual_authenticator, one_gesture_or_none

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
pytest.importorskip("webauthn")

PHONE = "+79991234567"


@pytest.fixture
def passkey_site(site: Any, settings: Any) -> Any:
    settings.KODMOBI = {
        **settings.KODMOBI,
        "PASSKEYS": True,
        "PASSKEY_RP_ID": "localhost",
        "PASSKEY_ORIGINS": [site.url],
        "SIGNUP": True,
    }
    return site


@pytest.fixture
def authenticator(page: Any) -> Iterator[Any]:
    cdp, authenticator_id = add_virtual_authenticator(page)
    cdp.authenticator_id = authenticator_id
    yield cdp


def calls(site_engine: Any) -> int:
    return sum(site_engine.calls.values())


def log_in_by_code(page: Any, site: Any, engine: Any) -> None:
    page.goto(f"{site.url}/accounts/login/")
    page.get_by_label("Phone number or email").fill(PHONE)
    page.get_by_role("button", name="Send code", exact=True).click()
    page.wait_for_url("**/accounts/login/code/")
    page.get_by_label("Code").fill(engine.last_code(PHONE))
    page.get_by_role("button", name="Log in").click()


def with_a_passkey(page: Any, site: Any, engine: Any) -> int:
    log_in_by_code(page, site, engine)
    page.wait_for_url("**/passkeys/offer/**")
    page.shots("offer")
    gestures = one_gesture_or_none(page, "Create a passkey", "**/")
    assert Passkey.objects.count() == 1
    return gestures


def passkey_login(page: Any, site: Any) -> int:
    page.context.clear_cookies()
    # The login page asks for autofill options as it loads: let that request
    # end first. The live server shares one SQLite connection between its
    # threads, and two requests at once can break each other's commit.
    with page.expect_response(lambda reply: "/passkeys/login/options/" in reply.url):
        page.goto(f"{site.url}/accounts/login/")
    return one_gesture_or_none(page, "Log in with a passkey", f"{site.url}/")


def refusals() -> list[str]:
    return list(
        PasskeyEvent.objects.filter(kind="login_refused")
        .order_by("id")
        .values_list("detail", flat=True)
    )


def test_one_gesture_after_the_first_code_then_no_message(
    page: Any, passkey_site: Any, browser_sandbox: Any, authenticator: Any
) -> None:
    engine = browser_sandbox.engine
    assert with_a_passkey(page, passkey_site, engine) <= 1
    stored = authenticator.send(
        "WebAuthn.getCredentials", {"authenticatorId": authenticator.authenticator_id}
    )["credentials"]
    assert len(stored) == 1 and stored[0]["isResidentCredential"]
    before = calls(engine)
    assert passkey_login(page, passkey_site) <= 1
    page.shots("logged-in-by-passkey")
    assert "You are logged in." in page.content()
    assert calls(engine) == before  # kod.mobi was not asked anything
    assert PasskeyEvent.objects.filter(kind="logged_in").count() == 1


def test_a_deleted_passkey_is_refused_and_a_code_recovers(
    page: Any, passkey_site: Any, browser_sandbox: Any, authenticator: Any
) -> None:
    engine = browser_sandbox.engine
    with_a_passkey(page, passkey_site, engine)
    page.goto(f"{passkey_site.url}/accounts/contacts/")
    page.locator("[data-kodmobi-passkey]").get_by_role("button", name="Remove").click()
    assert "The passkey is removed" in page.content()
    assert Passkey.objects.count() == 0
    page.context.clear_cookies()
    page.goto(f"{passkey_site.url}/accounts/login/")
    refused = page.get_by_text("This passkey was not accepted")
    try:  # autofill (conditional mediation) answered by itself
        refused.wait_for(timeout=1500)
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError
        page.get_by_role("button", name="Log in with a passkey").click()
        refused.wait_for()
    assert set(refusals()) == {"unknown_passkey"}
    log_in_by_code(page, passkey_site, engine)
    page.wait_for_url("**/passkeys/offer/**")  # logged in, and offered a new one


def sent_assertion(page: Any) -> dict[str, Any]:
    """Log in by passkey and return the body the page posted."""
    bodies: list[str] = []
    page.on(
        "request",
        lambda r: bodies.append(r.post_data) if "/passkeys/login/?" in r.url else None,
    )
    passkey_login(page, page.site)
    body: dict[str, Any] = json.loads(bodies[-1])
    return body


def post_from_the_page(page: Any, site: Any, body: dict[str, Any]) -> int:
    """Post ``body`` as the login page would, in a browser with no session.

    The page is fetched, not opened: its script would start a passkey
    prompt of its own (autofill), whose requests race this one on the live
    server's one SQLite connection, and may even log in by the passkey.
    """
    page.context.clear_cookies()
    html = page.request.get(f"{site.url}/accounts/login/").text()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token is not None
    reply = page.request.post(
        f"{site.url}/accounts/passkeys/login/",
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "X-CSRFToken": token[1]},
    )
    return int(reply.status)


def test_a_replayed_assertion_is_refused(
    page: Any, passkey_site: Any, browser_sandbox: Any, authenticator: Any
) -> None:
    with_a_passkey(page, passkey_site, browser_sandbox.engine)
    page.site = passkey_site
    body = sent_assertion(page)
    assert post_from_the_page(page, passkey_site, body) == 400
    assert refusals() == ["challenge"]


def test_a_passkey_of_a_cannot_log_in_as_b(
    page: Any, passkey_site: Any, browser_sandbox: Any, authenticator: Any
) -> None:
    from webauthn.helpers import bytes_to_base64url

    from django_kodmobi.services.passkeys import user_handle

    with_a_passkey(page, passkey_site, browser_sandbox.engine)
    boris = get_user_model().objects.create_user("boris")
    page.site = passkey_site
    # A's passkey answers a fresh challenge, claiming to be B's.
    bodies: list[str] = []

    def hold(route: Any) -> None:
        bodies.append(route.request.post_data)
        route.abort()

    page.route("**/passkeys/login/?*", hold)
    page.context.clear_cookies()
    page.goto(f"{passkey_site.url}/accounts/login/")
    page.get_by_role("button", name="Log in with a passkey").click()
    page.wait_for_timeout(1000)
    page.unroute("**/passkeys/login/?*")
    body = json.loads(bodies[-1])
    body["credential"]["response"]["userHandle"] = bytes_to_base64url(
        user_handle(boris)
    )
    assert post_from_the_page(page, passkey_site, body) == 400
    assert refusals() == ["wrong_user"]


@pytest.mark.parametrize(
    ("setting", "reason"),
    [("PASSKEY_ORIGINS", "wrong_origin"), ("PASSKEY_RP_ID", "wrong_rp_id")],
)
def test_a_wrong_origin_or_rp_id_is_refused(
    page: Any,
    passkey_site: Any,
    browser_sandbox: Any,
    authenticator: Any,
    settings: Any,
    setting: str,
    reason: str,
) -> None:
    """The server expects another origin or RP ID than the browser used
    (as for a passkey made on a look-alike site): refused."""
    with_a_passkey(page, passkey_site, browser_sandbox.engine)
    other = {
        "PASSKEY_ORIGINS": ["http://localhost:1"],
        "PASSKEY_RP_ID": "example.localhost",
    }[setting]

    def elsewhere(route: Any) -> None:
        settings.KODMOBI = {**settings.KODMOBI, setting: other}
        route.continue_()

    page.route("**/passkeys/login/?*", elsewhere)
    page.context.clear_cookies()
    page.goto(f"{passkey_site.url}/accounts/login/")
    refused = page.get_by_text("This passkey was not accepted")
    try:  # autofill (conditional mediation) answered by itself
        refused.wait_for(timeout=1500)
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError
        page.get_by_role("button", name="Log in with a passkey").click()
        refused.wait_for()
    assert refusals() == [reason]
