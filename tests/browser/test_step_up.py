"""Step-up in a real browser: a view behind kodmobi_step_up_required."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from django_kodmobi.sandbox import SandboxServer

from .test_login_flows import EMAIL, code_for, expect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_sensitive_view_asks_for_a_code_once(
    page: Any, site: Any, browser_sandbox: SandboxServer
) -> None:
    # Logged in by password (the admin's login): no code confirmed yet.
    get_user_model().objects.create_user(
        "anna", EMAIL, "a long password", is_staff=True
    )
    page.goto(f"{site.url}/admin/login/?next=/")
    page.get_by_label("Username").fill("anna")
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Log in").click()
    expect()(page.locator("#who")).to_have_text("Hello anna")

    page.goto(f"{site.url}/sensitive/?tab=keys")
    expect()(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    assert "/accounts/step-up/?next=" in page.url
    page.shots("step-up")
    page.get_by_role("button", name="Send a code").click()
    expect()(page.get_by_text("We sent a code to a•••@example.com.")).to_be_visible()
    page.get_by_label("Code").fill(code_for(browser_sandbox, EMAIL))
    page.get_by_role("button", name="Confirm").click()
    expect()(page.get_by_text("the sensitive page")).to_be_visible()
    assert page.url == f"{site.url}/sensitive/?tab=keys"
    # Within max_age: no second prompt.
    page.goto(f"{site.url}/sensitive/")
    expect()(page.get_by_text("the sensitive page")).to_be_visible()
