"""What the Chromium passkey cases share: a virtual authenticator (the CDP
WebAuthn domain) and "one gesture, or none where the browser offers it"."""

from __future__ import annotations

from typing import Any

__all__ = ["add_virtual_authenticator", "one_gesture_or_none"]


def add_virtual_authenticator(page: Any) -> tuple[Any, str]:
    """A platform authenticator on ``page`` that verifies its user and
    answers at once; returns the CDP session and the authenticator's id."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, str(added["authenticatorId"])


def one_gesture_or_none(page: Any, button: str, url: str) -> int:
    """Reach ``url``: with no gesture where the browser offers the passkey
    itself (autofill, conditional creation), else with one press of
    ``button``. Returns the gestures it took."""
    try:
        page.wait_for_url(url, timeout=1500)
        return 0
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError
        page.get_by_role("button", name=button).click()
        page.wait_for_url(url)
        return 1
