"""Every how-to of the README, followed literally and in its order.

A reader starts in an empty folder beside ``django-kodmobi`` (this
checkout's sdist, unpacked: what a clone holds) with a new virtual
environment active, and does what each section says, block after block
(``tests/docs_runner.py`` says how it reads them). Each case ends with what
its text promises, in Chromium where a person would click. Changing the
README without mending what it tells people to do fails here.

Slow (a package build and installs, a server per section): marked
``docs`` and run by ``.ci/run`` on Django 4.2 and 6.0, not by ``make test``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs_runner import (
    CHROMIUM,
    Reader,
    chromium_page,
    follow,
    followed,
    inbox_code,
    unpacked_sdist,
)

pytestmark = pytest.mark.docs


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpacked_sdist(tmp_path_factory.mktemp("reader"))


def installed_from_the_text(reader: Reader) -> None:
    reader.run_python("import django_kodmobi; print(django_kodmobi.__file__)")
    assert str(reader.env["VIRTUAL_ENV"]) in reader.output, reader.output


@pytest.fixture(scope="module")
def quick_start(home: Path) -> Iterator[Reader]:
    ready = "http://127.0.0.1:8000/accounts/login/"
    with followed(home, "quick-start", "Quick start in your project", ready) as reader:
        yield reader


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
@pytest.mark.parametrize("identifier", ["+79991234567", "anna@example.com"])
def test_quick_start_ends_logged_in(quick_start: Reader, identifier: str) -> None:
    """Step 4's promise: type a phone or email, take the code from the
    sandbox's inbox, land on the contacts page saying "You are logged in."."""
    installed_from_the_text(quick_start)
    pytest.importorskip("playwright.sync_api")
    with chromium_page() as page:
        page.goto("http://127.0.0.1:8000/accounts/login/")
        page.get_by_label("Phone number or email").fill(identifier)
        page.get_by_role("button", name="Send code", exact=True).click()
        page.wait_for_url("**/accounts/login/code/")
        page.get_by_label("Code").fill(inbox_code(identifier))
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/accounts/contacts/")
        assert "You are logged in." in page.content()


def test_the_test_kit_snippet_passes(quick_start: Reader) -> None:
    """ "Testing your site", in the Quick start's project: its test passes."""
    follow(quick_start, "Testing your site")
    assert "1 passed" in quick_start.output, quick_start.output


def test_the_api_walkthrough(quick_start: Reader) -> None:
    """The REST API section's walkthrough, run as written against the Quick
    start's servers: it prints a login and the session it made."""
    follow(quick_start, "REST API")
    said = quick_start.output.splitlines()
    assert said[0] == "logged_in", quick_start.output
    assert said[1].startswith("{'authenticated': True, 'user': {"), said
