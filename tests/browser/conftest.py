"""Headless Chromium (Debian's) driven by Playwright, against a live server.

The site talks to a real sandbox on loopback, so the browser can open the
sandbox's own links and icons. Skipped when Chromium or Playwright is absent;
``.ci/run`` installs both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api")
if CHROMIUM is None:  # pragma: no cover - depends on the machine
    pytest.skip("Chromium is not installed", allow_module_level=True)

from django_kodmobi.sandbox import SandboxConfig, SandboxEngine, SandboxServer  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

# Playwright's sync API runs an event loop in the test thread; the Django
# calls the tests make there are synchronous on purpose.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser_sandbox() -> Iterator[SandboxServer]:
    # A short channel timeout lets a test watch a resend countdown run out.
    engine = SandboxEngine(
        SandboxConfig(
            echo=False,
            channel_timeout=3,
            phone_channels=frozenset({"telegram", "whatsapp", "sms"}),
        )
    )
    with SandboxServer(engine) as server:
        yield server


@pytest.fixture
def site(live_server: Any, browser_sandbox: SandboxServer, settings: Any) -> Any:
    """The live server, wired to the loopback sandbox."""
    engine = browser_sandbox.engine
    # The sandbox is shared: nothing a test before did (a session, the
    # channel a phone used last) may change what this one sees.
    engine.reset()
    settings.KODMOBI = {
        "API_URL": browser_sandbox.url,
        "PUBLIC_KEY": engine.config.public_key,
        "SECRET_KEY": engine.config.secret_key,
        "USER_PHONE_FIELD": "username",
        "DEFAULT_REGION": "RU",
        "SMS_COUNTRIES": ["RU"],  # as a site that serves Russia names it
        "SANDBOX_INBOX_URL": f"{browser_sandbox.url}/sandbox/",
        "TIMEOUT": (2, 3),
        "MAX_RETRIES": 0,
    }
    settings.SILENCED_SYSTEM_CHECKS = ["kodmobi.W001"]
    from django.core.cache import cache

    cache.clear()
    return live_server


class Shots:
    """Saves a numbered screenshot per step under artifacts/screenshots/."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.name = name
        self.step = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, label: str) -> None:
        self.step += 1
        path = SCREENSHOTS / f"{self.name}-{self.step:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)


def _page(
    browser: Any, request: pytest.FixtureRequest, **options: Any
) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="en-US", **options
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.shots = Shots(page, request.node.name)
    yield page
    context.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A phone-sized page with JavaScript."""
    yield from _page(browser, request)


@pytest.fixture
def page_nojs(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A phone-sized page with JavaScript disabled."""
    yield from _page(browser, request, java_script_enabled=False)
