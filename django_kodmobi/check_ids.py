"""Every system check ID of the app and what it means: the one list.

The checks live beside what they check (``checks``, ``login_checks``,
``contrib.allauth``, ``contrib.two_factor``) and name their IDs through
:func:`check_id`, so an ID cannot be used without being listed here; the
README's table of system checks is tested to be this list.
"""

from __future__ import annotations

__all__ = ["CHECK_IDS", "check_id"]

CHECK_IDS: dict[str, str] = {
    "kodmobi.E001": "PUBLIC_KEY missing (and no SANDBOX)",
    "kodmobi.E002": "SECRET_KEY missing (and no SANDBOX)",
    "kodmobi.E003": "a value has the wrong type or range",
    "kodmobi.E004": "a dotted path does not import",
    "kodmobi.E005": "KodMobiBackend missing from AUTHENTICATION_BACKENDS",
    "kodmobi.E006": "PATHS names an unknown operation or a bad path",
    "kodmobi.E007": "DEFAULT_REGION is not a known region",
    "kodmobi.E008": "USER_PHONE_FIELD or USER_EMAIL_FIELD names no field",
    "kodmobi.E009": "an allowed kind of identifier can never log in",
    "kodmobi.E010": "API_LOGIN names a mode whose app or package is missing",
    "kodmobi.E011": "allauth's phone codes are not 4 to 6 digits",
    "kodmobi.E012": "TWO_FACTOR_TOTP_DIGITS is not 4 to 6",
    "kodmobi.E013": "the kod.mobi gateway is TWO_FACTOR_CALL_GATEWAY",
    "kodmobi.E014": "TEST_NUMBERS while DEBUG is off, not allowed in production",
    "kodmobi.E015": "PASSKEYS without the webauthn package, or a bad RP ID or origin",
    "kodmobi.W001": "the sandbox is in use while DEBUG is off",
    "kodmobi.W002": "unknown keys in KODMOBI",
    "kodmobi.W003": "a code shorter than 6 characters while DEBUG is off",
    "kodmobi.W004": "rate limits count in a per-process cache",
    "kodmobi.W005": "rate limits on a shared cache exact per process only",
}


def check_id(name: str) -> str:
    """``name``, once it is known to be listed in :data:`CHECK_IDS`."""
    if name not in CHECK_IDS:
        raise LookupError(f"{name} is not in django_kodmobi.check_ids.CHECK_IDS")
    return name
