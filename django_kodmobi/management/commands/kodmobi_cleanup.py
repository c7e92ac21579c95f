from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from django_kodmobi.conf import settings
from django_kodmobi.models import (
    LIVE_STATUSES,
    KodSession,
    ManualDelivery,
    OTPEvent,
    OTPSession,
    PasskeyChallenge,
    Status,
    TrustedBrowser,
)

#: Rows per batch, and the rest after each, by default: short batches and
#: the database's time mostly left to the logins running meanwhile
#: (``benchmarks/bench_scale.py`` measures them).
BATCH_SIZE = 200
PAUSE_SECONDS = 0.1
MAX_PAUSE_SECONDS = 60.0


class Command(BaseCommand):
    help = (
        "Mark open OTP sessions past their expiry as expired; delete sessions "
        "(with their events), kod.mobi sessions, manual deliveries, and "
        "trusted browsers expired or revoked, older than "
        "KODMOBI['RETENTION_DAYS'], and passkey challenges past their expiry. "
        "Works in batches, one short transaction each, with a rest between "
        "them, so a large backlog neither holds locks, nor fills memory, nor "
        "slows the logins running meanwhile."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Retention in days (default: KODMOBI['RETENTION_DAYS']).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"Rows per batch (default: {BATCH_SIZE}).",
        )
        parser.add_argument(
            "--pause",
            type=float,
            default=PAUSE_SECONDS,
            help=f"Seconds to rest after each batch (default: {PAUSE_SECONDS}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would change; change nothing.",
        )

    def handle(
        self,
        *args: Any,
        days: int | None,
        batch_size: int,
        pause: float,
        dry_run: bool,
        **options: Any,
    ) -> None:
        days = settings.RETENTION_DAYS if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if not 0 <= pause <= MAX_PAUSE_SECONDS:
            raise CommandError(f"--pause must be from 0 to {MAX_PAUSE_SECONDS}")
        self.pause = pause
        now = timezone.now()
        cutoff = now - timedelta(days=days)
        old = OTPSession.objects.filter(created_at__lt=cutoff)
        old_deliveries = ManualDelivery.objects.filter(created_at__lt=cutoff)
        others = _other_old_rows(now, cutoff)
        if dry_run:
            stale = OTPSession.objects.stale(now).count()
            events = OTPEvent.objects.filter(session__created_at__lt=cutoff).count()
            self.stdout.write(
                f"Would expire {stale} open session(s) and delete {old.count()} "
                f"session(s) with {events} event(s) and {old_deliveries.count()} "
                f"manual deliveries older than {days} day(s)."
            )
            for label, rows in others.items():
                self.stdout.write(f"Would delete {rows.count()} {label}.")
            return
        expired = self._in_batches("expired", lambda: _expire_batch(now, batch_size))
        sessions = events = 0

        def delete_sessions() -> int:
            nonlocal sessions, events
            done, found = _delete_session_batch(cutoff, batch_size)
            sessions += done
            events += found
            return done

        self._in_batches("sessions deleted", delete_sessions)
        deliveries = self._in_batches(
            "deliveries deleted", lambda: _delete_batch(old_deliveries, batch_size)
        )
        self.stdout.write(
            f"Expired {expired} open session(s); deleted {sessions} session(s) "
            f"with {events} event(s) and {deliveries} manual deliveries older "
            f"than {days} day(s)."
        )
        for label, rows in others.items():
            done = self._in_batches(
                f"{label} deleted", partial(_delete_batch, rows, batch_size)
            )
            self.stdout.write(f"Deleted {done} {label}.")

    def _in_batches(self, label: str, batch: Callable[[], int]) -> int:
        """Run ``batch`` until it does nothing; return the rows it did."""
        total = 0
        while done := batch():
            total += done
            # The database's time goes to the logins for a while: a backlog
            # cleared flat out would slow every login that overlaps it.
            time.sleep(self.pause)
            if self.stdout.isatty():
                self.stdout.write(f"\r{label}: {total}", ending="")
                self.stdout.flush()
        if total and self.stdout.isatty():
            self.stdout.write("")
        return total


def _expire_batch(now: datetime, size: int) -> int:
    ids = list(
        OTPSession.objects.stale(now).order_by().values_list("pk", flat=True)[:size]
    )
    # The condition again: a flow may have moved on since it was read.
    return OTPSession.objects.filter(
        pk__in=ids, status__in=LIVE_STATUSES, expires_at__lte=now
    ).update(status=Status.EXPIRED, updated_at=timezone.now())


def _delete_session_batch(cutoff: datetime, size: int) -> tuple[int, int]:
    """Delete up to ``size`` old sessions with their events; return both counts."""
    ids = list(
        OTPSession.objects.filter(created_at__lt=cutoff)
        .order_by()
        .values_list("pk", flat=True)[:size]
    )
    if not ids:
        return 0, 0
    with transaction.atomic():
        events, _ = OTPEvent.objects.filter(session_id__in=ids).delete()
        # Events gone, the sessions are loaded only as far as the deletion
        # must (their primary keys), for what else points at them.
        sessions = OTPSession.objects.filter(pk__in=ids).only("pk").delete()[1]
    return sessions.get(OTPSession._meta.label, 0), events


def _other_old_rows(now: datetime, cutoff: datetime) -> dict[str, QuerySet[Any]]:
    """Rows nothing reads any more, by what the summary calls them."""
    return {
        # A kod.mobi session lives minutes; its row counts a code's checks.
        "kod.mobi session(s)": KodSession.objects.filter(created_at__lt=cutoff),
        # Good for one ceremony of PASSKEY_CHALLENGE_SECONDS.
        "expired passkey challenge(s)": PasskeyChallenge.objects.filter(
            expires_at__lt=now
        ),
        # Ended trust stays in the audit as long as the sessions do.
        "ended trusted browser(s)": TrustedBrowser.objects.filter(
            Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)
        ),
    }


def _delete_batch(rows: QuerySet[Any], size: int) -> int:
    """Delete up to ``size`` of ``rows``; return how many went."""
    ids = list(rows.order_by().values_list("pk", flat=True)[:size])
    return rows.model.objects.filter(pk__in=ids).delete()[0] if ids else 0
