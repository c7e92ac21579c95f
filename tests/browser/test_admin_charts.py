"""The admin charts page in a real browser, under a strict CSP."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from django_kodmobi.models import EventKind, OTPEvent, OTPSession, Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'"
)
CHANNELS = ["telegram", "whatsapp", "sms", "email"]
#: The charts' "today": the month they show, and so the screenshot in the
#: docs, is the same whenever the test runs.
TODAY = "2026-11-28 15:00Z"


def a_month_of_logins() -> None:
    """Flows on each of the last 30 days: most log in, some never get a
    code, some give up after a wrong one."""
    rng = random.Random(7)
    now = timezone.now()
    sessions, events = [], []
    for day in range(30):
        for n in range(rng.randint(5, 25)):
            created = now - timedelta(days=day, minutes=n * 7)
            channel = rng.choice(CHANNELS) if rng.random() > 0.05 else ""
            logged_in = bool(channel) and rng.random() > 0.25
            waited = timedelta(seconds=rng.randint(8, 90))
            session = OTPSession(
                identifier=f"person{day}-{n}@example.com",
                identifier_kind="email",
                channel=channel,
                status=Status.CONSUMED if logged_in else Status.EXPIRED,
                created_at=created,
                expires_at=created + timedelta(minutes=5),
                sent_at=created if channel else None,
                verified_at=created + waited if logged_in else None,
                consumed_at=created + waited if logged_in else None,
            )
            sessions.append(session)
            if channel:
                events.append(
                    OTPEvent(
                        session=session,
                        kind=EventKind.SENT,
                        at=created,
                        channel=channel,
                    )
                )
            if logged_in:
                events.append(
                    OTPEvent(
                        session=session, kind=EventKind.LOGGED_IN, at=created + waited
                    )
                )
            elif channel:
                events.append(
                    OTPEvent(
                        session=session,
                        kind=EventKind.CODE_REJECTED,
                        at=created + waited,
                        detail="attempt 1",
                    )
                )
            else:
                events.append(
                    OTPEvent(
                        session=session,
                        kind=EventKind.FAILED,
                        at=created,
                        detail="KodMobiTimeoutError",
                    )
                )
    OTPSession.objects.bulk_create(sessions)
    OTPEvent.objects.bulk_create(events)


@time_machine.travel(TODAY)  # ticking: the live server's clock runs on
def test_the_charts_render_under_a_strict_csp(browser: Any, live_server: Any) -> None:
    a_month_of_logins()
    user_model = get_user_model()
    user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )

    def with_csp(route: Any) -> None:
        response = route.fetch()
        headers = {**response.headers, "content-security-policy": STRICT_CSP}
        route.fulfill(response=response, headers=headers)

    page.route(f"{live_server.url}/admin/**", with_csp)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/kodmobi/otpsession/")
    page.get_by_role("link", name="Charts: last 30 days").click()

    from playwright.sync_api import expect

    expect(
        page.get_by_role("heading", name="Logins in the last 30 days")
    ).to_be_visible()
    charts = page.locator("svg.kodmobi-chart")
    expect(charts).to_have_count(3)
    # The stylesheet applied: bars are drawn in their channel's colour.
    telegram = page.locator("rect.kodmobi-channel-telegram").first
    assert telegram.evaluate("r => getComputedStyle(r).fill") == "rgb(34, 158, 217)"
    assert page.locator("svg.kodmobi-chart rect").count() > 60
    expect(page.get_by_role("row", name="Telegram")).to_have_count(2)  # funnel, waits
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_SCREENSHOTS / "admin-charts.png"), full_page=True)
    assert violations == []
    context.close()
