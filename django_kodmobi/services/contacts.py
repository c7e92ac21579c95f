"""A person's verified phones and emails: add, verify, make primary, remove.

Adding a contact starts a flow of purpose ``verify_contact``, bound to the
user who asked; the right code marks the contact verified. Whether the
value belongs to someone else is said only then, once the code has proven
it is the person's own: before that every reply is the same, so nobody
learns whose a number is. A verified value belongs to one user (a unique
index); a login by it finds that user in one indexed query.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from django_kodmobi import clock, signals
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import Contact, OTPSession, Purpose, TrustEnd
from django_kodmobi.users import Identifier, normalize_identifier

from . import trust
from .context import ClientInfo
from .flows import Flow, get_flow_session
from .start import start_login
from .verify import verify_code

__all__ = [
    "add_contact",
    "claim",
    "make_primary",
    "promote_if_none",
    "remember_contact",
    "remove_contact",
    "verify_contact",
]


def add_contact(
    user: AbstractBaseUser,
    raw: str,
    *,
    channel: str | None = None,
    client: ClientInfo | None = None,
    challenge_token: str | None = None,
) -> Flow:
    """Send a code to a new phone or email of ``user``.

    :raises VerificationError: ``contact_exists`` if it is already one of
        this user's verified contacts, or as :func:`start_login`.
    """
    identifier = normalize_identifier(raw)
    mine = Contact.objects.filter(user_id=user.pk, value=identifier.value)
    if mine.verified().exists():
        raise VerificationError(Failure.CONTACT_EXISTS)
    flow = start_login(
        raw,
        channel=channel,
        purpose=Purpose.VERIFY_CONTACT,
        client=client,
        challenge_token=challenge_token,
    )
    # Only this user can finish the flow.
    OTPSession.objects.filter(pk=flow.session.pk).update(user_id=user.pk)
    contact, created = Contact.objects.get_or_create(
        user_id=user.pk, value=identifier.value, defaults={"kind": identifier.kind}
    )
    if created:
        signals.contact_added.send(sender=Contact, user=user, contact=contact)
    return flow


@sensitive_variables("flow_token", "code")
def verify_contact(
    user: AbstractBaseUser,
    session_id: str,
    flow_token: str,
    code: str,
    *,
    request: HttpRequest | None = None,
    challenge_token: str | None = None,
) -> Contact:
    """Check ``code`` for a contact ``user`` added; on success it is verified
    (and primary, if the user had no primary contact of its kind).

    :raises VerificationError: ``not_found`` (another user's flow, or not a
        contact flow), ``contact_unavailable`` (verified by another account
        meanwhile), or as :func:`verify_code`.
    """
    session = get_flow_session(session_id, flow_token)
    if session.purpose != Purpose.VERIFY_CONTACT or session.user_id != user.pk:
        raise VerificationError(Failure.NOT_FOUND)
    verify_code(
        session_id,
        flow_token,
        code,
        request=request,
        challenge_token=challenge_token,
    )
    if not OTPSession.objects.consume(session):
        raise VerificationError(Failure.ALREADY_USED)
    contact = Contact.objects.get(user_id=user.pk, value=session.identifier)
    claim(contact)
    promote_if_none(contact)
    contact.refresh_from_db()
    signals.contact_verified.send(sender=Contact, user=user, contact=contact)
    return contact


def claim(contact: Contact) -> None:
    """Mark ``contact`` verified: its value is its user's from now on.

    :raises VerificationError: ``contact_unavailable`` if another account
        holds the value verified (the unique index decides a race).
    """
    try:
        with transaction.atomic():
            Contact.objects.filter(pk=contact.pk).update(
                verified_at=clock.now(), removed_at=None
            )
    except IntegrityError:
        raise VerificationError(Failure.CONTACT_UNAVAILABLE) from None


def promote_if_none(contact: Contact) -> None:
    """Make ``contact`` primary when its user has no primary of its kind."""
    mine = Contact.objects.filter(user_id=contact.user_id, kind=contact.kind)
    if mine.filter(primary=True).exists():
        return
    try:
        with transaction.atomic():
            Contact.objects.filter(pk=contact.pk).update(primary=True)
    except IntegrityError:  # a concurrent verify promoted its own
        pass


def make_primary(user: AbstractBaseUser, contact_id: Any) -> Contact:
    """Make a verified contact ``user``'s primary one of its kind.

    :raises VerificationError: ``not_found``.
    """
    contact = _own_verified(user, contact_id)
    with transaction.atomic():
        Contact.objects.filter(user_id=user.pk, kind=contact.kind, primary=True).update(
            primary=False
        )
        Contact.objects.filter(pk=contact.pk).update(primary=True)
    contact.refresh_from_db()
    return contact


def remove_contact(user: AbstractBaseUser, contact_id: Any) -> Contact:
    """Remove a contact of ``user``. It can no longer log in, even if a user
    field still holds it; the value is free for another account to verify.

    :raises VerificationError: ``not_found``.
    """
    contact = Contact.objects.filter(
        user_id=user.pk, pk=_as_pk(contact_id), removed_at__isnull=True
    ).first()
    if contact is None:
        raise VerificationError(Failure.NOT_FOUND)
    contact.verified_at, contact.primary, contact.removed_at = None, False, clock.now()
    contact.save(update_fields=["verified_at", "primary", "removed_at"])
    # It may be the phone that was lost: no browser stays trusted on it.
    trust.revoke_trust(user.pk, TrustEnd.CONTACT_REMOVED)
    signals.contact_removed.send(sender=Contact, user=user, contact=contact)
    return contact


def _own_verified(user: AbstractBaseUser, contact_id: Any) -> Contact:
    contact = (
        Contact.objects.verified()
        .filter(user_id=user.pk, pk=_as_pk(contact_id))
        .first()
    )
    if contact is None:
        raise VerificationError(Failure.NOT_FOUND)
    return contact


def _as_pk(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def remember_contact(user: AbstractBaseUser, identifier: Identifier) -> None:
    """Record the identifier a login by code just proved as ``user``'s
    verified contact, so the next login finds it in one indexed query.

    Nothing happens when it is already recorded (verified, pending or
    removed) or another account holds it verified.
    """
    Contact.objects.bulk_create(
        [
            Contact(
                user_id=user.pk,
                kind=identifier.kind,
                value=identifier.value,
                verified_at=clock.now(),
            )
        ],
        ignore_conflicts=True,
    )
