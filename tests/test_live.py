"""Against the real kod.mobi: opt-in, read-only unless a phone is given.

    KODMOBI_LIVE_PUBLIC_KEY=... [KODMOBI_LIVE_SECRET_KEY=...] \\
    [KODMOBI_LIVE_API_URL=https://api.kod.mobi] [KODMOBI_LIVE_PHONE=+7...] \\
    .venv/bin/python -m pytest -m live tests/test_live.py

Never run in CI: there is no key there, and no network beyond loopback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from django_kodmobi.client import DEFAULT_BASE_URL, KodMobiClient

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not os.environ.get("KODMOBI_LIVE_PUBLIC_KEY"),
        reason="set KODMOBI_LIVE_PUBLIC_KEY to test against the real kod.mobi",
    ),
]


@pytest.fixture
def live() -> Iterator[KodMobiClient]:
    with KodMobiClient(
        os.environ["KODMOBI_LIVE_PUBLIC_KEY"],
        os.environ.get("KODMOBI_LIVE_SECRET_KEY"),
        base_url=os.environ.get("KODMOBI_LIVE_API_URL", DEFAULT_BASE_URL),
    ) as client:
        yield client


def test_project_channels(live: KodMobiClient) -> None:
    channels = live.get_channels()
    assert channels, "the project has no channels"
    assert all(channel.type and channel.name for channel in channels)


def test_settings(live: KodMobiClient) -> None:
    settings = live.get_settings()
    assert settings.code.length >= 4


@pytest.mark.skipif(
    not os.environ.get("KODMOBI_LIVE_PHONE"), reason="set KODMOBI_LIVE_PHONE to send"
)
def test_create_session_sends_a_code(live: KodMobiClient) -> None:
    session = live.create_session(os.environ["KODMOBI_LIVE_PHONE"])
    assert session.session_id
    assert session.channels
