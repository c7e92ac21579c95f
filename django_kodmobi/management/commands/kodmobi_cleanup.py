from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from django_kodmobi.conf import settings
from django_kodmobi.models import ManualDelivery, OTPEvent, OTPSession
from django_kodmobi.services import expire_stale


class Command(BaseCommand):
    help = (
        "Mark open OTP sessions past their expiry as expired, and delete sessions "
        "(with their events) and manual deliveries older than "
        "KODMOBI['RETENTION_DAYS']."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Retention in days (default: KODMOBI['RETENTION_DAYS']).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would change; change nothing.",
        )

    def handle(
        self, *args: Any, days: int | None, dry_run: bool, **options: Any
    ) -> None:
        days = settings.RETENTION_DAYS if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1")
        now = timezone.now()
        cutoff = now - timedelta(days=days)
        old = OTPSession.objects.filter(created_at__lt=cutoff)
        old_deliveries = ManualDelivery.objects.filter(created_at__lt=cutoff)
        sessions = old.count()
        events = OTPEvent.objects.filter(session__in=old).count()
        stale = OTPSession.objects.stale(now).count()
        if dry_run:
            self.stdout.write(
                f"Would expire {stale} open session(s) and delete {sessions} session(s) "
                f"with {events} event(s) and {old_deliveries.count()} manual "
                f"deliveries older than {days} day(s)."
            )
            return
        expired = expire_stale(now)
        deleted = old.delete()[1].get(OTPSession._meta.label, 0)
        deliveries, _ = old_deliveries.delete()
        self.stdout.write(
            f"Expired {expired} open session(s); deleted {deleted} session(s) "
            f"with {events} event(s) and {deliveries} manual deliveries older "
            f"than {days} day(s)."
        )
