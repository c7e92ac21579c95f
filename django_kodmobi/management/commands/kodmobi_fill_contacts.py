"""Record the phones and emails in the user fields as verified contacts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from django_kodmobi import clock
from django_kodmobi.exceptions import VerificationError
from django_kodmobi.models import Contact, IdentifierKind
from django_kodmobi.users import Identifier, identifier_field, normalize_identifier


class Command(BaseCommand):
    help = (
        "Record the phones and emails in USER_PHONE_FIELD and the email field as "
        "verified contacts, so logins find them in one indexed query. They are "
        "what logins by code already trusted. Values shared by several users are "
        "skipped (a login by them is refused today too); values already "
        "recorded, pending or removed are left alone. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true")

    def handle(
        self, *args: Any, batch_size: int, dry_run: bool, **options: Any
    ) -> None:
        # Two passes over the users: count each value, then record the ones
        # that belong to one user only.
        counts = Counter(identifier.value for _pk, identifier in self.found())
        shared = {value for value, count in counts.items() if count > 1}
        batch: list[Contact] = []
        recorded = 0
        for pk, identifier in self.found():
            if identifier.value in shared:
                continue
            batch.append(
                Contact(
                    user_id=pk,
                    kind=identifier.kind,
                    value=identifier.value,
                    verified_at=clock.now(),
                )
            )
            if len(batch) >= batch_size:
                recorded += self.save(batch, dry_run)
                batch = []
        recorded += self.save(batch, dry_run)
        verb = "Would record up to" if dry_run else "Recorded"
        self.stdout.write(
            f"{verb} {recorded} contact(s); skipped {len(shared)} value(s) shared "
            "by several users."
        )

    def found(self) -> Iterator[tuple[Any, Identifier]]:
        """(user pk, normalised identifier) for every usable field value."""
        user_model = get_user_model()
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

    def save(self, batch: list[Contact], dry_run: bool) -> int:
        if dry_run or not batch:
            return len(batch)
        before = Contact.objects.count()
        Contact.objects.bulk_create(batch, ignore_conflicts=True)
        return Contact.objects.count() - before
