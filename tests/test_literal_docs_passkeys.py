"""The README's "Passkeys after the first code", followed literally after
its Quick start, in a project of its own (its settings change the site, so
it shares no servers with the other cases): a code, "Create a passkey", then
a login by passkey with no new message. Marked ``docs``, as
``tests/test_literal_docs.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.docs_runner import (
    CHROMIUM,
    SANDBOX,
    Reader,
    chromium_page,
    follow,
    followed,
    inbox_code,
    unpacked_sdist,
)
from tests.passkey_helpers import add_virtual_authenticator, one_gesture_or_none

pytestmark = pytest.mark.docs
pytest.importorskip("webauthn")


@pytest.fixture(scope="module")
def with_passkeys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reader]:
    home = unpacked_sdist(tmp_path_factory.mktemp("reader"))
    ready = "http://127.0.0.1:8000/accounts/login/"
    with followed(home, "passkeys", "Quick start in your project", ready) as reader:
        follow(reader, "Passkeys after the first code")
        yield reader


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_passkeys_after_the_first_code(with_passkeys: Reader) -> None:
    """The Passkeys section, after the Quick start: a code, "Create a
    passkey", then a login by passkey with no new message in the inbox."""
    pytest.importorskip("playwright.sync_api")
    login = "http://localhost:8000/accounts/login/"
    # runserver reloads itself on the settings change.
    deadline = time.monotonic() + 30
    while "data-kodmobi-passkey-login" not in _page_text(login):
        assert time.monotonic() < deadline, with_passkeys.log.read_text()[-3000:]
        time.sleep(0.5)
    phone = "+79997654321"
    with chromium_page() as page:
        add_virtual_authenticator(page)
        page.goto(login)
        page.get_by_label("Phone number or email").fill(phone)
        page.get_by_role("button", name="Send code", exact=True).click()
        page.wait_for_url("**/accounts/login/code/")
        page.get_by_label("Code").fill(inbox_code(phone))
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/passkeys/offer/**")
        assert "Log in without a code next time" in page.content()
        one_gesture_or_none(page, "Create a passkey", "**/accounts/contacts/")
        sent = len(_inbox(phone))
        page.context.clear_cookies()
        page.goto(login)
        one_gesture_or_none(page, "Log in with a passkey", "**/accounts/contacts/")
        assert "You are logged in." in page.content()
        assert len(_inbox(phone)) == sent  # no message for this login


def _page_text(url: str) -> str:
    try:
        return requests.get(url, timeout=5).text
    except requests.RequestException:
        return ""


def _inbox(to: str) -> list[Any]:
    reply = requests.get(f"{SANDBOX}/sandbox/inbox", params={"to": to}, timeout=5)
    messages: list[Any] = reply.json()["messages"]
    return messages
