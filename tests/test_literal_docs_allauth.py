"""The README's django-allauth section, alone in a new project, followed
literally (see test_literal_docs): a sign-up by phone, then a login by code,
both with the codes allauth made and kod.mobi's sandbox delivered."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.docs_runner import Reader, follow, new_reader, unpacked_sdist

pytest.importorskip("allauth")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.docs,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

SITE = "http://127.0.0.1:8000"
PHONE = "+79991234567"


@pytest.fixture(scope="module")
def allauth_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reader]:
    reader = new_reader(unpacked_sdist(tmp_path_factory.mktemp("reader")), "allauth")
    try:
        follow(reader, "django-allauth")
        reader.wait_for(f"{SITE}/accounts/login/")
        yield reader
    finally:
        reader.close()


def newest_code(to: str) -> str:
    inbox = requests.get(
        "http://127.0.0.1:8765/sandbox/inbox", params={"to": to}, timeout=5
    ).json()["messages"]
    return str(inbox[0]["code"])


def submit(page: Any, field: str, value: str) -> None:
    """Fill ``field`` and send the form it is in."""
    form = page.locator("form", has=page.locator(f"input[name={field}]"))
    form.locator(f"input[name={field}]").fill(value)
    form.locator("button[type=submit]").first.click()


def test_sign_up_then_log_in_by_code(allauth_site: Reader) -> None:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{SITE}/accounts/signup/")
            submit(page, "phone", PHONE)
            page.wait_for_url("**/phone/verify/**")
            submit(page, "code", newest_code(PHONE))
            page.wait_for_url(f"{SITE}/accounts/phone/change/")
            assert "+79991234567" in page.content()  # signed up, logged in
            page.context.clear_cookies()
            page.goto(f"{SITE}/accounts/phone/change/")
            assert "/accounts/login/" in page.url  # logged out

            page.goto(f"{SITE}/accounts/login/code/")
            submit(page, "phone", PHONE)
            page.wait_for_url("**/login/code/confirm/**")
            submit(page, "code", newest_code(PHONE))
            page.wait_for_url(f"{SITE}/accounts/phone/change/")
            assert "+79991234567" in page.content()  # logged in by code
        finally:
            browser.close()
