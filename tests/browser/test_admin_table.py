"""The audit's sessions table in a real browser: it fits a 1440 px screen."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from django_kodmobi.models import OTPSession, Status

from .test_admin_charts import a_month_of_logins

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_sessions_table_fits_1440_px(browser: Any, live_server: Any) -> None:
    a_month_of_logins()
    # The widest values a row can hold: an IPv6 address, a long reason.
    now = timezone.now()
    OTPSession.objects.create(
        identifier="+79991234567",
        identifier_kind="phone",
        channel="whatsapp",
        status=Status.FAILED,
        last_error="ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL",
        client_ip="2001:db8:85a3:1234:5678:8a2e:370:7334",
        expires_at=now,
        purpose="second_factor",
    )
    get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/kodmobi/otpsession/")
    table = page.locator("#result_list")
    width = table.evaluate("t => t.getBoundingClientRect().right")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= 1440 and width <= 1440, (scroll, width)
    context.close()
