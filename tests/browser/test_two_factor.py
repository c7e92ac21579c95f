"""django-two-factor-auth in a real browser: a password, then the code
kod.mobi delivered (its manual flow) to the person's messenger.

Runs with ``--ds=tests.settings_otp`` (the ``otp`` tox env); skipped
elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model

from django_kodmobi.models import ManualDelivery
from django_kodmobi.sandbox import SandboxServer
from tests.helpers import other_code

from .test_login_flows import expect

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.skipif(
        not apps.is_installed("two_factor"), reason="needs tests.settings_otp"
    ),
]

PHONE = "+79991234567"


def a_user_with_a_phone_device() -> None:
    from two_factor.plugins.phonenumber.models import PhoneDevice

    anna = get_user_model().objects.create_user("anna", password="a long password")
    PhoneDevice.objects.create(user=anna, name="default", number=PHONE, method="sms")


def log_in_with_a_password(page: Any) -> None:
    """The first step of two-factor's login: the code goes out."""
    page.get_by_label("Username").fill("anna")
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Next").click()


def test_a_password_then_the_code_from_kodmobi(
    page: Any, site: Any, browser_sandbox: SandboxServer
) -> None:
    a_user_with_a_phone_device()
    page.goto(f"{site.url}/otp/protected/")
    assert "/account/login/" in page.url
    log_in_with_a_password(page)
    expect()(page.get_by_label("Token")).to_be_visible()
    page.shots("token-step")

    message = browser_sandbox.engine.inbox.last(PHONE)
    assert message is not None and message.session_id is None  # manual flow
    assert message.channel == "telegram"  # the messenger, not SMS
    assert ManualDelivery.objects.get().purpose == "two_factor"
    page.get_by_label("Token").fill(message.code)
    page.get_by_role("button", name="Next").click()
    expect()(page.get_by_text("second factor passed: anna")).to_be_visible()


def test_a_wrong_code_is_refused(
    page: Any, site: Any, browser_sandbox: SandboxServer
) -> None:
    a_user_with_a_phone_device()
    page.goto(f"{site.url}/account/login/")
    log_in_with_a_password(page)
    message = browser_sandbox.engine.inbox.last(PHONE)
    assert message is not None
    wrong = other_code(message.code)
    page.get_by_label("Token").fill(wrong)
    page.get_by_role("button", name="Next").click()
    expect()(page.get_by_text("Invalid token.")).to_be_visible()
    page.goto(f"{site.url}/otp/protected/")
    assert "/account/login/" in page.url
