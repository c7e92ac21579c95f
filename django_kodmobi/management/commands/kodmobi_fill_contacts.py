"""Record the phones and emails in the user fields as verified contacts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from django_kodmobi.contact_fill import fill_contacts
from django_kodmobi.models import Contact


class Command(BaseCommand):
    help = (
        "Record the phones and emails in USER_PHONE_FIELD and the email field as "
        "verified contacts, so logins find them in one indexed query. They are "
        "what logins by code already trusted. Values shared by several users are "
        "skipped (a login by them is refused today too); values already "
        "recorded, pending or removed are left alone. Safe to run again. "
        "Migration 0013 runs it once on upgrade; run it after importing users "
        "by other means."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true")

    def handle(
        self, *args: Any, batch_size: int, dry_run: bool, **options: Any
    ) -> None:
        recorded, shared = fill_contacts(
            get_user_model(), Contact, batch_size=batch_size, dry_run=dry_run
        )
        verb = "Would record up to" if dry_run else "Recorded"
        self.stdout.write(
            f"{verb} {recorded} contact(s); skipped {shared} value(s) shared "
            "by several users."
        )
