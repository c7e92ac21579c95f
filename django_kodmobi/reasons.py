"""One vocabulary for *why* a flow ended as it did, for the audit.

``OTPSession.last_error`` and event details hold a short code: kod.mobi's
own ``sys_message`` (``ERROR_BLOCKED``), the kind of failure to reach it
(``KodMobiTimeoutError``), or this app's refusal of a login
(``no_account``). Replies to people never say which refusal it was (they
get one "can't sign in with a code" for all); the admin does.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

__all__ = ["LOGIN_REFUSALS", "label"]

#: Why a verified person was not logged in.
LOGIN_REFUSALS = {
    "no_account": _("no account (signup off)"),
    "inactive": _("account inactive"),
    "staff_excluded": _("staff excluded"),
    "no_user_created": _("the user factory made no user"),
}

_LABELS: dict[str, Promise] = {
    **LOGIN_REFUSALS,
    "ERROR_BLOCKED": _("too many wrong codes (kod.mobi)"),
    "ERROR_PHONE_BLOCKED": _("destination blocked by kod.mobi"),
    "ERROR_WRONG_CODE": _("wrong code"),
    "ERROR_SESSION_EXPIRED": _("expired at kod.mobi"),
    "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL": _("not connected on that channel"),
    "ERROR_WRONG_BALANCE": _("kod.mobi balance too low"),
    "ERROR_PROJECT_HAS_NO_CHANNELS": _("the kod.mobi project has no channels"),
    "ERROR_DELIVERY_FAILED": _("kod.mobi could not deliver it"),
    "KodMobiTimeoutError": _("kod.mobi did not answer in time"),
    "KodMobiConnectionError": _("kod.mobi could not be reached"),
    "CircuitOpenError": _("kod.mobi down (circuit open)"),
    "KodMobiServerError": _("kod.mobi server error"),
    "KodMobiResponseError": _("kod.mobi reply made no sense"),
    "KodMobiAuthenticationError": _("kod.mobi refused our keys"),
}


def label(code: str) -> str:
    """A readable label for a reason code; the code itself if unknown."""
    if not code:
        return ""
    known = _LABELS.get(code)
    return f"{known} ({code})" if known is not None else code
