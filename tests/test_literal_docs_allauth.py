"""The README's django-allauth section, alone in a new project, followed
literally (see test_literal_docs): a sign-up by phone, then a login by code,
both with the codes allauth made and kod.mobi's sandbox delivered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.docs_runner import (
    CHROMIUM,
    chromium_page,
    followed,
    inbox_code,
    unpacked_sdist,
)

pytest.importorskip("allauth")
pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.docs,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

SITE = "http://127.0.0.1:8000"
PHONE = "+79991234567"


def submit(page: Any, field: str, value: str) -> None:
    """Fill ``field`` and send the form it is in."""
    form = page.locator("form", has=page.locator(f"input[name={field}]"))
    form.locator(f"input[name={field}]").fill(value)
    form.locator("button[type=submit]").first.click()


def test_sign_up_then_log_in_by_code(tmp_path: Path) -> None:
    home = unpacked_sdist(tmp_path)
    ready = f"{SITE}/accounts/login/"
    with followed(home, "allauth", "django-allauth", ready), chromium_page() as page:
        page.goto(f"{SITE}/accounts/signup/")
        submit(page, "phone", PHONE)
        page.wait_for_url("**/phone/verify/**")
        submit(page, "code", inbox_code(PHONE))
        page.wait_for_url(f"{SITE}/accounts/phone/change/")
        assert "+79991234567" in page.content()  # signed up, logged in
        page.context.clear_cookies()
        page.goto(f"{SITE}/accounts/phone/change/")
        assert "/accounts/login/" in page.url  # logged out

        page.goto(f"{SITE}/accounts/login/code/")
        submit(page, "phone", PHONE)
        page.wait_for_url("**/login/code/confirm/**")
        submit(page, "code", inbox_code(PHONE))
        page.wait_for_url(f"{SITE}/accounts/phone/change/")
        assert "+79991234567" in page.content()  # logged in by code
