"""The README's django-two-factor-auth how-to, alone in a new project,
followed literally (see test_literal_docs): anna logs in with her password,
sets up the phone method with the code kod.mobi's sandbox delivered, and
her next login asks for a code after the password."""

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

pytest.importorskip("two_factor")
pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.docs,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

SITE = "http://127.0.0.1:8000"
PHONE = "+79991234567"
SECTION = "A second factor: django-two-factor-auth"


def password_step(page: Any) -> None:
    page.goto(f"{SITE}/account/login/")
    page.get_by_label("Username").fill("anna")
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Next").click()


def test_set_up_then_log_in_with_the_code(tmp_path: Path) -> None:
    home = unpacked_sdist(tmp_path)
    ready = f"{SITE}/account/login/"
    with followed(home, "two-factor", SECTION, ready), chromium_page() as page:
        password_step(page)
        page.wait_for_url(f"{SITE}/account/two_factor/")
        page.goto(f"{SITE}/account/two_factor/setup/")
        page.get_by_role("button", name="Next").click()  # the welcome
        page.get_by_label("Text message").check()
        page.get_by_role("button", name="Next").click()
        page.get_by_label("Phone number").fill(PHONE)
        page.get_by_role("button", name="Next").click()
        page.get_by_label("Token").fill(inbox_code(PHONE))
        page.get_by_role("button", name="Next").click()
        page.wait_for_url("**/account/two_factor/setup/complete/")

        page.context.clear_cookies()
        password_step(page)
        page.get_by_label("Token").fill(inbox_code(PHONE))
        page.get_by_role("button", name="Next").click()
        page.wait_for_url(f"{SITE}/account/two_factor/")
        assert "Disable Two-Factor Authentication" in page.content()
