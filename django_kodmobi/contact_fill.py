"""The phones and emails in the user fields, recorded as verified contacts.

Shared by ``kodmobi_fill_contacts`` and the data migration that runs it once
on upgrade (0013): a login finds a person by their contact in one indexed
query, where the user fields may have no index (an email field matched
without regard to case is a sequential scan of the users).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.db.models import Model

from django_kodmobi import clock
from django_kodmobi.exceptions import VerificationError
from django_kodmobi.models import IdentifierKind
from django_kodmobi.users import Identifier, identifier_field, normalize_identifier


def fill_contacts(
    user_model: type[Model],
    contact_model: type[Model],
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
) -> tuple[int, int]:
    """Record every usable phone and email of ``user_model``'s fields as a
    verified ``contact_model`` row. Values shared by several users are
    skipped (a login by them is refused, as it is without a contact); values
    already recorded, pending or removed are left alone. Safe to run again.

    Returns the contacts recorded (with ``dry_run``: that would be, at most)
    and the values skipped as shared. Works on the historical models of a
    migration as on the real ones.
    """
    # Two passes over the users: count each value, then record the ones
    # that belong to one user only.
    counts = Counter(identifier.value for _pk, identifier in _found(user_model))
    shared = {value for value, count in counts.items() if count > 1}
    batch: list[Any] = []
    recorded = 0
    for pk, identifier in _found(user_model):
        if identifier.value in shared:
            continue
        batch.append(
            contact_model(
                user_id=pk,
                kind=identifier.kind,
                value=identifier.value,
                verified_at=clock.now(),
            )
        )
        if len(batch) >= batch_size:
            recorded += _save(contact_model, batch, dry_run)
            batch = []
    recorded += _save(contact_model, batch, dry_run)
    return recorded, len(shared)


def _found(user_model: type[Model]) -> Iterator[tuple[Any, Identifier]]:
    """(user pk, normalised identifier) for every usable field value."""
    for kind in IdentifierKind:
        field = identifier_field(kind)
        if field is None:
            continue
        rows = (
            user_model._default_manager.exclude(**{field: ""})
            .order_by("pk")
            .values_list("pk", field)
            .iterator(chunk_size=2000)
        )
        for pk, value in rows:
            try:
                identifier = normalize_identifier(value)
            except VerificationError:
                continue  # a username that is a name, not a phone
            if identifier.kind is kind:
                yield pk, identifier


def _save(contact_model: type[Model], batch: list[Any], dry_run: bool) -> int:
    if dry_run or not batch:
        return len(batch)
    contacts = contact_model._default_manager
    before = contacts.count()
    contacts.bulk_create(batch, ignore_conflicts=True)
    return int(contacts.count() - before)
