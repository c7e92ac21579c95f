"""A browser its owner trusts skips the kod.mobi second factor at login.

Connected when ``django_kodmobi.contrib.otp`` is installed: a login from a
trusted browser (:mod:`django_kodmobi.services.trust`) is verified with the
person's kod.mobi device, as a right code would verify it, so
``otp_required`` views let them in with no code sent.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest
from django_otp import login as otp_login

from django_kodmobi.services import trust

from .models import KodmobiDevice

__all__ = ["connect_trusted_browsers", "verify_trusted_browser"]


def verify_trusted_browser(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    if request is None or trust.trusted_browser(request) is None:
        return
    for device in KodmobiDevice.objects.devices_for_user(user, confirmed=True):
        if device.is_usable():
            otp_login(request, device)
            return


def connect_trusted_browsers() -> None:
    user_logged_in.connect(
        verify_trusted_browser, dispatch_uid="django_kodmobi.otp.trusted_browser"
    )
