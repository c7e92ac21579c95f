"""Masking of phone numbers and email addresses for logs and screens.

Django-free: the client and the sandbox use it too. A masked value keeps just
enough to let a person recognise their own destination ("+7******4567",
"a***@example.com") and never enough to recover it.
"""

from __future__ import annotations

__all__ = ["mask_email", "mask_for_display", "mask_identifier", "mask_phone"]

_HIDDEN = "*"


def mask_phone(phone: str) -> str:
    """Return ``phone`` with all but the leading ``+d`` and last 4 digits hidden."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) <= 6:
        # Too short to show anything without showing most of it.
        return _HIDDEN * 6
    return f"+{digits[0]}{_HIDDEN * (len(digits) - 5)}{digits[-4:]}"


def mask_email(email: str) -> str:
    """Return ``email`` with the local part reduced to its first character."""
    local, at, domain = email.rpartition("@")
    if not at or not local:
        return _HIDDEN * 6
    return f"{local[0]}{_HIDDEN * 3}@{domain}"


def mask_identifier(identifier: str) -> str:
    """Mask a phone number or an email address, whichever ``identifier`` is."""
    if "@" in identifier:
        return mask_email(identifier)
    return mask_phone(identifier)


def mask_for_display(identifier: str) -> str:
    """A friendlier mask for screens: ``+7 ••• ••• 45 67``, ``a•••@example.com``.

    The phone keeps its country code and last four digits, grouped in pairs
    so a person can read them back; the groups are joined by no-break spaces
    so the number never wraps across lines.
    """
    if "@" in identifier:
        return mask_email(identifier).replace(_HIDDEN, "•")
    digits = "".join(ch for ch in identifier if ch.isdigit())
    if len(digits) <= 6:
        return "•••"
    code_length = _country_code_length(digits)
    hidden = len(digits) - code_length - 4
    groups = ["•" * 3] * max(1, hidden // 3)
    parts = [f"+{digits[:code_length]}", *groups, digits[-4:-2], digits[-2:]]
    return "\u00a0".join(parts)


def _country_code_length(digits: str) -> int:
    # Lazily, so the client does not load libphonenumber's metadata.
    import phonenumbers

    for length in (1, 2, 3):
        if phonenumbers.region_code_for_country_code(int(digits[:length])) != "ZZ":
            return length
    return 1
