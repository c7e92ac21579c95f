"""Identifiers and users: normalising what people type, finding accounts.

Works with any user model: the field names are settings, and a dotted-path
resolver or factory can replace the lookup or the creation entirely.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, cast

import phonenumbers
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import EmailValidator
from ulid import ULID

from .conf import settings
from .exceptions import Failure, VerificationError
from .masking import mask_for_display, mask_identifier
from .models import Contact, IdentifierKind, OTPSession

__all__ = [
    "Account",
    "Identifier",
    "can_log_in",
    "create_user",
    "find_account",
    "find_user",
    "normalize_identifier",
    "signup_allowed",
]

logger = logging.getLogger("django_kodmobi.users")

#: What a typed phone number may contain before parsing. ASCII digits only:
#: Unicode \d would let other scripts' digits through.
_PHONE_CHARS = re.compile(r"[0-9+()\-. ]+")
_MAX_INPUT = 254
_validate_email = EmailValidator()


@dataclass(frozen=True)
class Identifier:
    """A normalised phone number (E.164) or email address (case-folded)."""

    value: str
    kind: IdentifierKind

    @property
    def masked(self) -> str:
        return mask_identifier(self.value)

    def __str__(self) -> str:
        return self.masked


def normalize_identifier(raw: object, *, region: str | None = None) -> Identifier:
    """Return the canonical form of a phone number or email address.

    Phone numbers go through libphonenumber (``region`` or
    ``KODMOBI["DEFAULT_REGION"]`` for numbers typed without ``+``) and come
    out in E.164; emails are validated and case-folded. Kinds not listed in
    ``KODMOBI["IDENTIFIERS"]`` are refused.

    :raises VerificationError: ``invalid_identifier``.
    """
    if not isinstance(raw, str) or not raw.strip() or len(raw) > _MAX_INPUT:
        raise VerificationError(Failure.INVALID_IDENTIFIER)
    text = raw.strip()
    if "@" in text:
        identifier = _normalize_email(text)
    else:
        identifier = _normalize_phone(text, region or settings.DEFAULT_REGION)
    if identifier.kind.value not in settings.IDENTIFIERS:
        raise VerificationError(Failure.INVALID_IDENTIFIER)
    return identifier


def _normalize_email(text: str) -> Identifier:
    value = text.casefold()
    try:
        _validate_email(value)
    except ValidationError:
        raise VerificationError(Failure.INVALID_IDENTIFIER) from None
    return Identifier(value, IdentifierKind.EMAIL)


def _normalize_phone(text: str, region: str | None) -> Identifier:
    if not _PHONE_CHARS.fullmatch(text):
        raise VerificationError(Failure.INVALID_IDENTIFIER)
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        raise VerificationError(Failure.INVALID_IDENTIFIER) from None
    if not phonenumbers.is_valid_number(number):
        raise VerificationError(Failure.INVALID_IDENTIFIER)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Identifier(e164, IdentifierKind.PHONE)


def identifier_field(kind: IdentifierKind) -> str | None:
    """The user model field that stores identifiers of ``kind``, if any."""
    if kind is IdentifierKind.PHONE:
        return settings.USER_PHONE_FIELD
    user_model = get_user_model()
    return settings.USER_EMAIL_FIELD or user_model.get_email_field_name()


def can_ever_log_in(kind: IdentifierKind) -> bool:
    """Whether, with these settings, an identifier of ``kind`` can end in a
    login at all: a resolver finds users, a user field holds such values,
    or signup has a way to create the user. If not, no code is sent."""
    if settings.get("USER_RESOLVER"):
        return True
    if identifier_field(kind) is not None:
        return True
    return bool(settings.get("SIGNUP")) and bool(settings.get("USER_FACTORY"))


@dataclass(frozen=True)
class Account:
    """Who an identifier belongs to, and the verified contact that said so."""

    user: AbstractBaseUser | None
    #: The verified contact that named ``user``: a login by it holds only
    #: while it does (``OTPSession.objects.consume``).
    contact: Contact | None = None
    #: The identifier names a user in the user fields, who removed it from
    #: their contacts: it logs nobody in, and makes no new account either
    #: (the user fields still hold it).
    removed: bool = False

    @property
    def by_contact(self) -> bool:
        return self.contact is not None


def find_account(identifier: Identifier) -> Account:
    """The user ``identifier`` belongs to: a verified contact first (one
    indexed query), then ``USER_RESOLVER`` or the user fields, unless the
    user removed that contact."""
    # Unique, so a plain slice: first() would add a sort by id.
    matches = Contact.objects.verified().filter(value=identifier.value)
    contact = next(iter(matches.select_related("user").order_by()[:1]), None)
    if contact is not None:
        return Account(contact.user, contact=contact)
    return account_by_user_fields(identifier)


def flow_account(session: OTPSession) -> Account:
    """:func:`find_account` for a flow's identifier, from the verified
    contact loaded with the flow (no query) when the flow was loaded so."""
    identifier = Identifier(session.identifier, IdentifierKind(session.identifier_kind))
    if not OTPSession.verified_contact.is_cached(session):
        return find_account(identifier)
    contact = cast("Contact | None", session.verified_contact)
    if contact is None:
        return account_by_user_fields(identifier)
    return Account(contact.user, contact=contact)


def account_by_user_fields(identifier: Identifier) -> Account:
    """:func:`find_account` for an identifier no verified contact holds."""
    resolver = settings.USER_RESOLVER
    user: AbstractBaseUser | None = (
        resolver(identifier) if resolver is not None else user_by_field(identifier)
    )
    if user is not None and (
        Contact.objects.filter(
            user_id=user.pk, value=identifier.value, removed_at__isnull=False
        ).exists()
    ):
        return Account(None, removed=True)  # a user field does not bring it back
    return Account(user)


def find_user(identifier: Identifier) -> AbstractBaseUser | None:
    """Return the one user ``identifier`` belongs to, or ``None``."""
    return find_account(identifier).user


def user_by_field(identifier: Identifier) -> AbstractBaseUser | None:
    """The lookup by ``USER_PHONE_FIELD`` / ``USER_EMAIL_FIELD``; a
    ``USER_RESOLVER`` may fall back to it for the kinds it does not handle."""
    field = identifier_field(identifier.kind)
    if field is None:
        return None
    lookup = f"{field}__iexact" if identifier.kind is IdentifierKind.EMAIL else field
    matches = list(
        get_user_model()._default_manager.filter(**{lookup: identifier.value})[:2]
    )
    if len(matches) > 1:
        # Two accounts share the address: logging into either would be a guess.
        logger.warning("kod.mobi login: %s matches several users", identifier.masked)
        return None
    return matches[0] if matches else None


def display_contact(user: AbstractBaseUser) -> str:
    """How a logged-in person is shown to themselves: their phone or email,
    masked for the screen (``+7 ••• ••• 45 67``), else their username."""
    for kind in (IdentifierKind.PHONE, IdentifierKind.EMAIL):
        field = identifier_field(kind)
        value = getattr(user, field, "") if field else ""
        try:
            contact = normalize_identifier(value) if value else None
        except VerificationError:  # e.g. a username field that holds a name
            contact = None
        if contact is not None and contact.kind is kind:
            return mask_for_display(contact.value)
    return str(user.get_username())


def signup_allowed(identifier: Identifier) -> bool:
    policy = settings.SIGNUP
    if callable(policy):
        return bool(policy(identifier))
    return policy


def create_user(identifier: Identifier) -> AbstractBaseUser | None:
    """Create the user for a first login, or return ``None`` if impossible."""
    factory = settings.USER_FACTORY
    if factory is not None:
        created: AbstractBaseUser | None = factory(identifier)
        return created
    field = identifier_field(identifier.kind)
    if field is None:
        return None
    user_model = get_user_model()
    values: dict[str, Any] = {field: identifier.value}
    username_field = user_model.USERNAME_FIELD
    if username_field != field:
        values[username_field] = _free_username(user_model, identifier.value)
    manager: Any = user_model._default_manager
    if hasattr(manager, "create_user"):
        user: AbstractBaseUser = manager.create_user(**values)
    else:
        user = user_model(**values)
    # Passwordless: the only way in is a code.
    user.set_unusable_password()
    user.save()
    return user


def _free_username(user_model: Any, wanted: str) -> str:
    try:
        max_length = user_model._meta.get_field(user_model.USERNAME_FIELD).max_length
    except FieldDoesNotExist:  # pragma: no cover - USERNAME_FIELD is a field
        max_length = None
    taken = user_model._default_manager.filter(
        **{user_model.USERNAME_FIELD: wanted}
    ).exists()
    if not taken and (max_length is None or len(wanted) <= max_length):
        return wanted
    return f"user-{ULID()}".lower()


def can_log_in(user: AbstractBaseUser) -> bool:
    """Active, and not staff when ``KODMOBI["EXCLUDE_STAFF"]`` is on."""
    if not getattr(user, "is_active", True):
        return False
    privileged = getattr(user, "is_staff", False) or getattr(
        user, "is_superuser", False
    )
    return not (settings.EXCLUDE_STAFF and privileged)
