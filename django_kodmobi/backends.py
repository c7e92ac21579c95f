"""The authentication backend that turns a verified OTP session into a login."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from .exceptions import VerificationError

__all__ = ["KodMobiBackend"]


class KodMobiBackend(ModelBackend):
    """Authenticate with a verified kod.mobi flow.

    The credentials are keyword-only and required, and no other backend takes
    them, so ``authenticate(request, username=..., password=...)`` never
    reaches this backend and this backend never sees a password. Every
    failure returns ``None``, as Django expects; Django then sends
    ``user_login_failed`` with the flow token masked.
    """

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        *,
        kodmobi_session_id: str,
        kodmobi_flow_token: str,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        from .services import redeem_for_login

        try:
            user = redeem_for_login(kodmobi_session_id, kodmobi_flow_token, request)
        except VerificationError:
            return None
        return user if self.user_can_authenticate(user) else None  # type: ignore[arg-type]
