"""A person logging in, in a real (headless) browser, with and without JS."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from django_kodmobi.sandbox import Fault, FaultKind, SandboxServer
from tests.helpers import other_code

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

EMAIL = "anna@example.com"
PHONE = "+79991234567"


@pytest.fixture
def people(db: Any) -> None:
    user_model = get_user_model()
    user_model.objects.create_user("anna", EMAIL)
    user_model.objects.create_user(PHONE)  # USER_PHONE_FIELD is "username" here


@pytest.fixture
def telegram_not_opened(site: Any, browser_sandbox: SandboxServer) -> None:
    """PHONE has not opened the Telegram bot yet (after ``site`` has reset
    the shared sandbox, which puts it back for the next test)."""
    browser_sandbox.engine.project.set_reachable(PHONE, ["whatsapp", "sms"])


def code_for(sandbox: SandboxServer, to: str) -> str:
    code = sandbox.engine.last_code(to)
    assert code is not None
    return code


def wrong_code(sandbox: SandboxServer, to: str) -> str:
    return other_code(code_for(sandbox, to))


def card(scope: Any, channel: str) -> Any:
    """The channel card button for ``channel`` within ``scope``."""
    return scope.locator(f"button[name=channel][value={channel}]")


def expect() -> Any:
    from playwright.sync_api import expect

    return expect


def open_login(page: Any, site: Any) -> None:
    page.goto(f"{site.url}/accounts/login/")
    expect()(page.get_by_role("heading", name="Log in")).to_be_visible()


def send_and_wait(page: Any) -> None:
    """Press "Send code" and wait for the code page (and so for the send)."""
    page.get_by_role("button", name="Send code", exact=True).click()
    expect()(page.get_by_role("heading", name="Enter the code")).to_be_visible()


def enter_code(page: Any, code: str) -> None:
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Log in").click()


def paste(page: Any, text: str) -> None:
    """Paste ``text`` into the code input, as a clipboard paste does."""
    page.evaluate(
        """(text) => {
            const input = document.querySelector('[data-kodmobi-code]');
            const data = new DataTransfer();
            data.setData('text', text);
            input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
        }""",
        text,
    )


def assert_fits_phone_width(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0


class TestWithJavaScript:
    def test_sending_first_then_log_out(
        self, page: Any, site: Any, browser_sandbox: SandboxServer, people: None
    ) -> None:
        open_login(page, site)
        assert_fits_phone_width(page)
        page.shots("login-page")
        page.get_by_label("Phone number or email").fill(EMAIL)
        page.get_by_role("button", name="Send code", exact=True).click()
        expect()(
            page.get_by_text("We sent a code to Email, a•••@example.com.")
        ).to_be_visible()
        code_input = page.get_by_label("Code")
        assert code_input.get_attribute("autocomplete") == "one-time-code"
        assert code_input.get_attribute("inputmode") == "numeric"
        assert_fits_phone_width(page)
        page.shots("code-page")
        enter_code(page, code_for(browser_sandbox, EMAIL))
        expect()(page.locator("#who")).to_have_text("Hello anna")
        page.shots("logged-in")
        page.get_by_role("button", name="Log out").click()
        expect()(page.locator("#who")).to_have_text("Hello anonymous")
        page.shots("logged-out")

    def test_channel_first(
        self, page: Any, site: Any, browser_sandbox: SandboxServer, people: None
    ) -> None:
        open_login(page, site)
        sms = card(page, "sms")
        sms.click()
        expect()(sms).to_have_attribute("aria-pressed", "true")
        send = page.locator("[data-kodmobi-submit]")
        expect()(send).to_have_text("Send code via SMS")
        expect()(page.get_by_label("Phone number or email")).to_be_focused()
        page.shots("channel-picked")
        page.get_by_label("Phone number or email").fill("8 999 123-45-67")
        send.click()
        expect()(
            page.get_by_text(
                "We sent a code to SMS, +7\u00a0•••\u00a0•••\u00a045\u00a067."
            )
        ).to_be_visible()
        page.shots("code-page")
        message = browser_sandbox.engine.inbox.last(PHONE)
        assert message is not None and message.channel == "sms"
        enter_code(page, message.code)
        expect()(page.locator("#who")).to_have_text(f"Hello {PHONE}")

    def test_resend_on_another_channel_after_the_countdown(
        self, page: Any, site: Any, browser_sandbox: SandboxServer, people: None
    ) -> None:
        open_login(page, site)
        page.get_by_label("Phone number or email").fill(PHONE)
        card(page, "telegram").click()
        expect()(page.get_by_text("We sent a code to Telegram")).to_be_visible()
        resend = page.locator(".kodmobi-resend")
        telegram = card(resend, "telegram")
        whatsapp = card(resend, "whatsapp")
        expect()(telegram).to_be_disabled()
        expect()(whatsapp).to_be_enabled()
        expect()(telegram.locator("[data-kodmobi-wait]")).to_be_visible()
        page.shots("countdown-running")
        # The sandbox's channel timeout is 3 s here: watch it run out.
        expect()(telegram).to_be_enabled(timeout=8_000)
        expect()(telegram.locator("[data-kodmobi-wait]")).to_be_hidden()
        page.shots("countdown-done")
        whatsapp.click()
        expect()(page.get_by_text("We sent the code again.")).to_be_visible()
        expect()(page.get_by_text("We sent a code to WhatsApp")).to_be_visible()
        page.shots("resent")
        channels = [m.channel for m in browser_sandbox.engine.inbox.messages(PHONE)]
        assert channels == ["telegram", "whatsapp"]
        enter_code(page, code_for(browser_sandbox, PHONE))
        expect()(page.locator("#who")).to_have_text(f"Hello {PHONE}")

    def test_inactive_channel_offers_its_bot(
        self,
        page: Any,
        site: Any,
        browser_sandbox: SandboxServer,
        people: None,
        telegram_not_opened: None,
    ) -> None:
        open_login(page, site)
        page.get_by_label("Phone number or email").fill(PHONE)
        page.get_by_role("button", name="Send code", exact=True).click()
        connect = page.get_by_role("link", name="Connect Telegram")
        expect()(connect).to_be_visible()
        assert (
            connect.get_attribute("href")
            == f"{browser_sandbox.url}/sandbox/connect/telegram"
        )
        page.shots("inactive-channels")

    def test_cards_follow_what_is_typed(
        self, page: Any, site: Any, browser_sandbox: SandboxServer, people: None
    ) -> None:
        open_login(page, site)
        card(page, "telegram").click()  # picked first, before anything is typed
        field = page.get_by_label("Phone number or email")
        field.fill(EMAIL)
        expect()(card(page, "telegram")).to_be_hidden()
        expect()(card(page, "email")).to_be_visible()
        # Telegram cannot reach an address: the pick is dropped with its card.
        expect()(
            page.get_by_role("button", name="Send code", exact=True)
        ).to_be_visible()
        field.fill(PHONE)
        expect()(card(page, "email")).to_be_hidden()
        expect()(card(page, "telegram")).to_be_visible()

    def test_back_from_the_bot_the_channels_are_asked_again(
        self,
        page: Any,
        site: Any,
        browser_sandbox: SandboxServer,
        people: None,
        telegram_not_opened: None,
    ) -> None:
        open_login(page, site)
        page.get_by_label("Phone number or email").fill(PHONE)
        send_and_wait(page)
        with page.context.expect_page() as bot:
            page.get_by_role("link", name="Connect Telegram").click()
        browser_sandbox.engine.project.connect(PHONE, "telegram")  # the bot opened
        bot.value.close()
        # The person comes back to the tab (headless Chromium keeps every
        # tab "visible", so the event is sent by hand).
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        page.wait_for_url("**/accounts/login/code/?channels=fresh")
        expect()(card(page, "telegram")).to_be_visible()
        expect()(page.get_by_role("link", name="Connect Telegram")).to_have_count(0)

    def test_pasted_code_is_cleaned_and_sent(
        self, page: Any, site: Any, browser_sandbox: SandboxServer, people: None
    ) -> None:
        open_login(page, site)
        page.get_by_label("Phone number or email").fill(EMAIL)
        send_and_wait(page)
        code = code_for(browser_sandbox, EMAIL)
        page.get_by_label("Code").focus()
        paste(page, f"{code[:3]} {code[3:]}")
        expect()(page.locator("#who")).to_have_text("Hello anna")

    def test_paste_then_enter_logs_in_once(
        self, page: Any, site: Any, browser_sandbox: SandboxServer, people: None
    ) -> None:
        """Paste submits the form; an Enter right after must not send the
        code again (the person would see the second answer: "already used")."""
        open_login(page, site)
        page.get_by_label("Phone number or email").fill(EMAIL)
        send_and_wait(page)
        code = code_for(browser_sandbox, EMAIL)
        checks = browser_sandbox.engine.calls["check"]
        # kod.mobi takes its time: the first request is still out when the
        # person presses Enter.
        browser_sandbox.engine.faults.add(
            Fault(FaultKind.LATENCY, frozenset({"check"}), latency=1.0, times=1)
        )
        page.get_by_label("Code").focus()
        paste(page, code)
        page.wait_for_timeout(300)
        page.keyboard.press("Enter")
        expect()(page.locator("#who")).to_have_text("Hello anna")
        assert browser_sandbox.engine.calls["check"] == checks + 1


class TestErrorMessages:
    def test_every_error_a_person_can_meet(
        self, page: Any, site: Any, browser_sandbox: SandboxServer, people: None
    ) -> None:
        identifier = page.get_by_label("Phone number or email")
        alert = page.get_by_role("alert")

        open_login(page, site)
        identifier.fill("12")
        page.get_by_role("button", name="Send code", exact=True).click()
        expect()(alert).to_contain_text("Enter a valid phone number or email address.")
        page.shots("invalid-identifier")

        # Email cannot reach a phone: its card is hidden once one is typed.
        identifier.fill(PHONE)
        expect()(card(page, "email")).to_be_hidden()
        # Telegram cannot reach it before its bot is opened: why, and the link.
        browser_sandbox.engine.project.set_reachable(PHONE, ["whatsapp", "sms"])
        card(page, "telegram").click()
        expect()(alert).to_contain_text("We can't send a code through this channel.")
        expect()(alert).to_contain_text("opened its bot")
        expect()(page.get_by_role("link", name="Connect Telegram")).to_be_visible()
        page.shots("channel-unavailable")
        browser_sandbox.engine.project.set_reachable(
            PHONE, ["telegram", "whatsapp", "sms"]
        )

        browser_sandbox.engine.faults.add(
            Fault(FaultKind.ERROR, frozenset({"create"}), times=1)
        )
        identifier.fill(PHONE)
        page.get_by_role("button", name="Send code", exact=True).click()
        expect()(alert).to_contain_text("The code service is not answering right now.")
        page.shots("kodmobi-down")

        # Nobody's email: the same code page, and nothing sent (silent unknowns).
        identifier.fill("nobody@example.com")
        send_and_wait(page)
        assert browser_sandbox.engine.last_code("nobody@example.com") is None
        page.get_by_role("button", name="Use another phone number or email").click()

        # An account that may not log in by code: the code, then the refusal.
        get_user_model().objects.create_user(
            "stranger", "stranger@example.com", is_active=False
        )
        identifier.fill("stranger@example.com")
        send_and_wait(page)
        enter_code(page, code_for(browser_sandbox, "stranger@example.com"))
        expect()(page.get_by_role("alert").first).to_contain_text(
            "This account can't sign in"
        )
        page.shots("login-not-allowed")

        page.get_by_role("button", name="Use another phone number or email").click()
        identifier.fill(EMAIL)
        send_and_wait(page)
        wrong = wrong_code(browser_sandbox, EMAIL)
        enter_code(page, wrong)
        expect()(page.get_by_role("alert").first).to_contain_text(
            "That code is not right."
        )
        expect()(page.get_by_text("Attempts left: 4.")).to_be_visible()
        page.shots("wrong-code")
        for _ in range(4):
            enter_code(page, wrong)
        expect()(page.get_by_role("alert").first).to_contain_text(
            "Too many wrong codes."
        )
        page.shots("locked")

        page.get_by_role("button", name="Use another phone number or email").click()
        identifier.fill(EMAIL)
        send_and_wait(page)
        code = code_for(browser_sandbox, EMAIL)
        browser_sandbox.engine.advance(181)
        enter_code(page, code)
        expect()(page.get_by_role("alert").first).to_contain_text(
            "This code has expired."
        )
        page.shots("expired")

    def test_resend_too_soon_without_javascript(
        self, page_nojs: Any, site: Any, browser_sandbox: SandboxServer, people: None
    ) -> None:
        page = page_nojs
        open_login(page, site)
        page.get_by_label("Phone number or email").fill(PHONE)
        card(page, "sms").click()
        # Without JavaScript nothing disables the button; the server says why.
        card(page.locator(".kodmobi-resend"), "sms").click()
        expect()(
            page.get_by_text("Please wait before asking for another code.")
        ).to_be_visible()
        page.shots("resend-too-soon")


class TestWithoutJavaScript:
    def test_both_flows(
        self, page_nojs: Any, site: Any, browser_sandbox: SandboxServer, people: None
    ) -> None:
        page = page_nojs
        open_login(page, site)
        page.get_by_label("Phone number or email").fill(EMAIL)
        page.get_by_role("button", name="Send code", exact=True).click()
        expect()(page.get_by_text("We sent a code to Email")).to_be_visible()
        page.shots("sending-first-code")
        enter_code(page, code_for(browser_sandbox, EMAIL))
        expect()(page.locator("#who")).to_have_text("Hello anna")
        page.get_by_role("button", name="Log out").click()
        expect()(page.locator("#who")).to_have_text("Hello anonymous")

        open_login(page, site)
        page.get_by_label("Phone number or email").fill(PHONE)
        card(page, "whatsapp").click()
        expect()(page.get_by_text("We sent a code to WhatsApp")).to_be_visible()
        page.shots("channel-first-code")
        enter_code(page, code_for(browser_sandbox, PHONE))
        expect()(page.locator("#who")).to_have_text(f"Hello {PHONE}")

    def test_russian(
        self,
        browser: Any,
        site: Any,
        browser_sandbox: SandboxServer,
        people: None,
        telegram_not_opened: None,
    ) -> None:
        context = browser.new_context(
            locale="ru-RU", viewport={"width": 390, "height": 844}
        )
        page = context.new_page()
        page.goto(f"{site.url}/accounts/login/")
        expect()(page.get_by_role("heading", name="Вход")).to_be_visible()
        page.get_by_label("Номер телефона или email").fill(PHONE)
        page.get_by_role("button", name="Получить код", exact=True).click()
        # kod.mobi picks the channel (the last one used, if it can): either.
        sent = re.compile(r"Код отправлен \((WhatsApp|SMS)\) на \+7")
        expect()(page.get_by_text(sent)).to_be_visible()
        # Telegram is not open yet for this phone: its card says so in Russian.
        expect()(
            page.get_by_text("Код в сообщении от нашего бота в Telegram")
        ).to_be_visible()
        expect()(page.get_by_role("link", name="Открыть Telegram")).to_be_visible()
        expect()(card(page, "email")).to_have_count(0)  # a phone gets no email card
        from tests.browser.conftest import Shots

        Shots(page, "test_russian")("code-page-ru")
        context.close()

    def test_a_login_ends_where_the_person_was_going(
        self, page: Any, site: Any, browser_sandbox: SandboxServer, people: None
    ) -> None:
        page.goto(f"{site.url}/accounts/login/?next=/widget/")
        page.get_by_label("Phone number or email").fill(EMAIL)
        send_and_wait(page)
        expect()(card(page, "sms")).to_have_count(0)  # an address gets no SMS card
        enter_code(page, code_for(browser_sandbox, EMAIL))
        expect()(page).to_have_url(f"{site.url}/widget/")
        expect()(page.get_by_text("You are logged in.")).to_be_visible()
        expect()(page.get_by_text("Logged in as a•••@example.com")).to_be_visible()
        page.shots("widget-logged-in")
        page.get_by_role("button", name="Log out").click()
        expect()(page.locator("#who")).to_have_text("Hello anonymous")
        expect()(page.get_by_text("You are logged out.")).to_be_visible()


DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.mark.parametrize(
    ("width_name", "viewport"),
    [
        ("phone", {"width": 390, "height": 844}),
        ("desktop", {"width": 1280, "height": 800}),
    ],
)
def test_screenshots_for_the_docs(
    browser: Any,
    site: Any,
    browser_sandbox: SandboxServer,
    people: None,
    telegram_not_opened: None,
    width_name: str,
    viewport: dict[str, int],
) -> None:
    """Each step of a login, at phone and desktop width, refreshed in
    docs/screenshots/ (the README shows them)."""
    context = browser.new_context(viewport=viewport, locale="en-US")
    page = context.new_page()
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(step: str) -> None:
        page.screenshot(path=str(DOCS_SCREENSHOTS / f"{step}-{width_name}.png"))

    page.goto(f"{site.url}/accounts/login/?next=/widget/")
    expect()(page.get_by_role("heading", name="Log in")).to_be_visible()
    shot("login")
    page.get_by_label("Phone number or email").fill(PHONE)
    send_and_wait(page)
    shot("code")
    enter_code(page, wrong_code(browser_sandbox, PHONE))
    expect()(page.get_by_text("Attempts left: 4.")).to_be_visible()
    shot("wrong-code")
    enter_code(page, code_for(browser_sandbox, PHONE))
    expect()(page.get_by_text("You are logged in.")).to_be_visible()
    shot("logged-in")
    context.close()
