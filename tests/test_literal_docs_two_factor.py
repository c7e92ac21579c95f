"""The README's django-two-factor-auth how-to, alone in a new project,
followed literally (see test_literal_docs): anna logs in with her password,
sets up the phone method with the code kod.mobi's sandbox delivered, and
her next login asks for a code after the password."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.docs_runner import Reader, follow, new_reader, unpacked_sdist

pytest.importorskip("two_factor")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.docs,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

SITE = "http://127.0.0.1:8000"
PHONE = "+79991234567"


@pytest.fixture(scope="module")
def two_factor_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reader]:
    home = unpacked_sdist(tmp_path_factory.mktemp("reader"))
    reader = new_reader(home, "two-factor")
    try:
        follow(reader, "A second factor: django-two-factor-auth")
        reader.wait_for(f"{SITE}/account/login/")
        yield reader
    finally:
        reader.close()


def newest_code(to: str) -> str:
    inbox = requests.get(
        "http://127.0.0.1:8765/sandbox/inbox", params={"to": to}, timeout=5
    ).json()["messages"]
    return str(inbox[0]["code"])


def password_step(page: Any) -> None:
    page.goto(f"{SITE}/account/login/")
    page.get_by_label("Username").fill("anna")
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Next").click()


def test_set_up_then_log_in_with_the_code(two_factor_site: Reader) -> None:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            password_step(page)
            page.wait_for_url(f"{SITE}/account/two_factor/")
            page.goto(f"{SITE}/account/two_factor/setup/")
            page.get_by_role("button", name="Next").click()  # the welcome
            page.get_by_label("Text message").check()
            page.get_by_role("button", name="Next").click()
            page.get_by_label("Phone number").fill(PHONE)
            page.get_by_role("button", name="Next").click()
            page.get_by_label("Token").fill(newest_code(PHONE))
            page.get_by_role("button", name="Next").click()
            page.wait_for_url("**/account/two_factor/setup/complete/")

            page.context.clear_cookies()
            password_step(page)
            page.get_by_label("Token").fill(newest_code(PHONE))
            page.get_by_role("button", name="Next").click()
            page.wait_for_url(f"{SITE}/account/two_factor/")
            assert "Disable Two-Factor Authentication" in page.content()
        finally:
            browser.close()
