from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import TestCase, TransactionTestCase
from django.utils import timezone

from django_kodmobi.models import ManualDelivery, OTPSession, Status
from django_kodmobi.services import send_code, start_login
from django_kodmobi.testing import KodMobiTestMixin


class MigrationTests(TestCase):
    def test_no_missing_migrations(self) -> None:
        out = io.StringIO()
        call_command("makemigrations", "kodmobi", "--check", "--dry-run", stdout=out)
        assert "No changes detected" in out.getvalue()

    def test_every_index_serves_a_query(self) -> None:
        """Each index costs every write: no pattern (``_like``) index on keys
        that are only matched whole, and no index on the events' session
        beside the (session, at) one."""
        from django.db import connection

        with connection.cursor() as cursor:
            indexes = {
                table: [
                    (name, info["columns"])
                    for name, info in connection.introspection.get_constraints(
                        cursor, table
                    ).items()
                    if info["index"]
                ]
                for table in connection.introspection.table_names(cursor)
                if table.startswith("kodmobi_")
            }
        assert [
            name
            for found in indexes.values()
            for name, _ in found
            if name.endswith("_like")
        ] == []
        by_session = [
            name
            for name, columns in indexes["kodmobi_otpevent"]
            if columns and columns[0] == "session_id"
        ]
        assert by_session == ["kodmobi_event_session_at"]


class Terminal(io.StringIO):
    """A stdout that says it is a terminal, where progress lines go."""

    def isatty(self) -> bool:
        return True


class CleanupTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.old = start_login("+79991234567").session
        OTPSession.objects.filter(pk=self.old.pk).update(
            created_at=timezone.now() - timedelta(days=91)
        )
        self.stale = start_login("+79991234568").session
        OTPSession.objects.filter(pk=self.stale.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        self.fresh = start_login("+79991234569").session
        self.old_delivery = send_code("anna@example.com", "1234")
        ManualDelivery.objects.filter(pk=self.old_delivery.pk).update(
            created_at=timezone.now() - timedelta(days=91)
        )
        self.new_delivery = send_code("anna@example.com", "1234")

    def run_cleanup(self, *args: str) -> str:
        out = io.StringIO()
        call_command("kodmobi_cleanup", *args, stdout=out)
        return out.getvalue()

    def test_dry_run_changes_nothing(self) -> None:
        output = self.run_cleanup("--dry-run")
        assert (
            "Would expire 1 open session(s) and delete 1 session(s) with 2 event(s) "
            "and 1 manual deliveries" in output
        )
        assert OTPSession.objects.count() == 3
        assert ManualDelivery.objects.count() == 2
        assert OTPSession.objects.filter(status=Status.EXPIRED).count() == 0

    def test_cleanup(self) -> None:
        output = self.run_cleanup()
        assert (
            "Expired 1 open session(s); deleted 1 session(s) with 2 event(s) and 1 "
            "manual deliveries" in output
        )
        assert list(ManualDelivery.objects.all()) == [self.new_delivery]
        assert set(OTPSession.objects.values_list("pk", flat=True)) == {
            self.stale.pk,
            self.fresh.pk,
        }
        self.stale.refresh_from_db()
        self.fresh.refresh_from_db()
        assert (self.stale.status, self.fresh.status) == (Status.EXPIRED, Status.SENT)

    def test_in_batches_each_its_own_statement(self) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        for n in range(3):
            session = start_login(f"+7999123450{n}").session
            OTPSession.objects.filter(pk=session.pk).update(
                created_at=timezone.now() - timedelta(days=91)
            )
            session = start_login(f"+7999123451{n}").session
            OTPSession.objects.filter(pk=session.pk).update(
                expires_at=timezone.now() - timedelta(minutes=1)
            )
        for _ in range(2):
            send_code("anna@example.com", "1234")
        ManualDelivery.objects.exclude(pk=self.new_delivery.pk).update(
            created_at=timezone.now() - timedelta(days=91)
        )

        def statements(start: str) -> int:
            return sum(q["sql"].startswith(start) for q in captured.captured_queries)

        terminal = Terminal()
        with CaptureQueriesContext(connection) as captured:
            call_command("kodmobi_cleanup", "--batch-size", "2", stdout=terminal)
        output = terminal.getvalue()
        assert "\rexpired: 2\rexpired: 4\n" in output  # a batch at a time
        assert (
            "Expired 4 open session(s); deleted 4 session(s) with 8 event(s) and 3 "
            "manual deliveries" in output
        )
        assert OTPSession.objects.count() == 5
        # 4 rows or 3, 2 a batch: two statements each.
        assert statements('UPDATE "kodmobi_otpsession" SET "status"') == 2
        assert statements('DELETE FROM "kodmobi_otpsession"') == 2
        assert statements('DELETE FROM "kodmobi_manualdelivery"') == 2
        assert "Expired 0" in self.run_cleanup("--batch-size", "1")  # the least
        with pytest.raises(CommandError, match="batch-size"):
            self.run_cleanup("--batch-size", "0")

    def test_it_rests_after_each_batch_that_did_something(self) -> None:
        from unittest import mock

        for n in range(3):
            session = start_login(f"+7999123450{n}").session
            OTPSession.objects.filter(pk=session.pk).update(
                expires_at=timezone.now() - timedelta(minutes=1)
            )
        sleep = "django_kodmobi.management.commands.kodmobi_cleanup.time.sleep"
        with mock.patch(sleep) as rested:
            self.run_cleanup("--batch-size", "2")
        # The documented default, 0.1 s: after the 2 stale flows and the
        # 2 more (the one set up, and the third), after the old session,
        # and after the old delivery; never after a batch that found nothing.
        assert rested.call_args_list == [mock.call(0.1)] * 4
        # And 200 rows a batch, by default.
        from django_kodmobi.management.commands.kodmobi_cleanup import Command

        parser = Command().create_parser("manage.py", "kodmobi_cleanup")
        assert parser.parse_args([]).batch_size == 200
        with mock.patch(sleep) as rested:
            self.run_cleanup("--pause", "0")
        assert rested.call_args_list == []  # nothing left to do
        with mock.patch(sleep) as rested:
            self.run_cleanup("--pause", "60")  # the longest rest allowed
        for wrong in ("-1", "61", "nan"):
            with pytest.raises(CommandError, match="pause"):
                self.run_cleanup("--pause", wrong)

    def test_a_flow_that_moved_on_since_it_was_read_is_left_alone(self) -> None:
        from unittest import mock

        from django_kodmobi.models import OTPSessionQuerySet

        # As if the fresh flow had been stale when the batch read its id.
        # And one that was consumed after its code was right, its expiry
        # since passed.
        consumed = start_login("+79991234560").session
        OTPSession.objects.filter(pk=consumed.pk).update(
            status=Status.CONSUMED, expires_at=timezone.now() - timedelta(minutes=1)
        )
        # Every row on the first read, none after: a cleanup that changed a
        # row it should not have stops after its second read, and fails.
        reads = [OTPSessionQuerySet(OTPSession), OTPSession.objects.none()]
        with mock.patch.object(OTPSessionQuerySet, "stale", side_effect=reads):
            self.run_cleanup()
        self.fresh.refresh_from_db()
        consumed.refresh_from_db()
        assert (self.fresh.status, consumed.status) == (Status.SENT, Status.CONSUMED)

    def test_kod_sessions_challenges_and_ended_trust_go_too(self) -> None:
        from django_kodmobi.models import KodSession, PasskeyChallenge, TrustedBrowser

        now, user = timezone.now(), get_user_model().objects.create_user("anna")
        KodSession.objects.filter(pk=self.old.kodmobi_session_id).update(
            created_at=now - timedelta(days=91)
        )
        for n, expires in enumerate((now - timedelta(seconds=1), now + timedelta(1))):
            PasskeyChallenge.objects.create(
                challenge=f"c{n}", purpose="login", expires_at=expires
            )
        long_ago = now - timedelta(days=91)
        for n, (expires, revoked) in enumerate(
            (
                (long_ago, None),  # expired long ago: goes
                (now + timedelta(days=1), long_ago),  # revoked long ago: goes
                (now + timedelta(days=1), now),  # revoked today: in the audit
                (now - timedelta(days=1), None),  # expired yesterday: kept
            )
        ):
            TrustedBrowser.objects.create(
                id=f"00000000-0000-0000-0000-00000000000{n}",
                user=user,
                password_digest="",
                expires_at=expires,
                revoked_at=revoked,
            )
        dry = self.run_cleanup("--dry-run")
        assert "Would delete 1 kod.mobi session(s)." in dry
        assert "Would delete 1 expired passkey challenge(s)." in dry
        assert "Would delete 2 ended trusted browser(s)." in dry
        assert KodSession.objects.count() == 3
        output = self.run_cleanup()
        assert "Deleted 1 kod.mobi session(s)." in output
        assert "Deleted 2 ended trusted browser(s)." in output
        assert self.old.kodmobi_session_id not in set(
            KodSession.objects.values_list("pk", flat=True)
        )
        assert KodSession.objects.count() == 2
        assert list(PasskeyChallenge.objects.values_list("pk", flat=True)) == ["c1"]
        assert sorted(
            str(pk)[-1] for pk in TrustedBrowser.objects.values_list("pk", flat=True)
        ) == ["2", "3"]

    def test_a_terminal_sees_progress(self) -> None:
        out = Terminal()
        call_command("kodmobi_cleanup", stdout=out)
        assert "\rsessions deleted: 1" in out.getvalue()

    def test_days_option(self) -> None:
        assert "deleted 0 session(s)" in self.run_cleanup("--days", "365")
        assert "deleted 1 session(s)" in self.run_cleanup("--days", "1")  # the least
        with pytest.raises(CommandError, match="days"):
            self.run_cleanup("--days", "0")


class SandboxCommandTests(TestCase):
    def test_runs_the_sandbox(self) -> None:
        from unittest import mock

        with mock.patch(
            "django_kodmobi.management.commands.kodmobi_sandbox.serve"
        ) as serve:
            call_command("kodmobi_sandbox", "--port", "0", "--fixed-code", "123456")
        options = serve.call_args.args[0]
        assert (options.port, options.fixed_code) == (0, "123456")

    def test_bad_options_are_command_errors(self) -> None:
        with pytest.raises(CommandError, match="code_length"):
            call_command("kodmobi_sandbox", "--port", "0", "--code-length", "2")


class ContactFillMigrationTests(TransactionTestCase):
    """Migration 0013 records the users' emails as contacts on upgrade, so
    that their first login finds them by an index, not by a scan."""

    def test_upgrading_records_the_users_emails_as_contacts(self) -> None:
        from django.db import connection
        from django.db.migrations.executor import MigrationExecutor

        from django_kodmobi.models import Contact
        from django_kodmobi.users import find_account, normalize_identifier

        executor = MigrationExecutor(connection)
        executor.migrate([("kodmobi", "0012_trusted_browsers")])
        users = get_user_model().objects
        anna = users.create_user("anna", "Anna@Example.com")
        users.create_user("eve", "shared@example.com")
        users.create_user("mallory", "SHARED@example.com")
        executor = MigrationExecutor(connection)  # the graph as it is now
        executor.migrate(executor.loader.graph.leaf_nodes("kodmobi"))

        assert list(Contact.objects.values_list("value", "user", "kind")) == [
            ("anna@example.com", anna.pk, "email")
        ]
        assert Contact.objects.get().verified_at is not None
        found = find_account(normalize_identifier("anna@example.com"))
        assert found.user == anna
        # A shared address stays refused, with or without a contact.
        assert find_account(normalize_identifier("shared@example.com")).user is None
