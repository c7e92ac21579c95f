"""The hand-written SQL of ``django_kodmobi.statements``, pinned.

Its rules (a check counted on the flow and the code's budget, both or
neither, within the caps) are tested through ``reserve_attempt``
(tests/test_transitions.py, tests/test_device_trust.py, the races of
tests/test_concurrency.py); here, the text and the number of statements and
round trips each write takes on this database.
"""

# The SQL expected, as text.
# ruff: noqa: S608

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test import TestCase, TransactionTestCase
from django.test.utils import CaptureQueriesContext

from django_kodmobi import clock, statements
from django_kodmobi.models import KodSession, OTPEvent, OTPSession, Status

from .helpers import database_work

POSTGRESQL = connection.vendor == "postgresql"

CODE_UPDATE = (
    'UPDATE "kodmobi_kodsession" SET attempts = attempts + 1, checked_at = %(now)s'
    ", joined_attempts = joined_attempts + CASE WHEN origin = %(flow)s THEN 0 ELSE"
    " 1 END WHERE id = %(code)s AND attempts < %(max)s AND (origin = %(flow)s OR"
    " joined_attempts < %(joined_max)s) AND EXISTS (SELECT 1 FROM"
    ' "kodmobi_otpsession" WHERE id = %(flow)s AND status IN (%(created)s,'
    " %(sent)s) AND expires_at > %(now)s)"
)
FLOW_UPDATE = (
    'UPDATE "kodmobi_otpsession" SET attempts = attempts + 1, updated_at = %(now)s'
    " WHERE id = %(flow)s"
)


def flow(status: Status = Status.SENT) -> OTPSession:
    return OTPSession.objects.create(
        identifier="+79991234567",
        identifier_kind="phone",
        kodmobi_session_id="01KODMOBI",
        status=status,
        expires_at=clock.now() + timedelta(minutes=5),
    )


class ReservationSQLTests(TestCase):
    def test_the_statements(self) -> None:
        expected: tuple[str, ...]
        if POSTGRESQL:
            expected = (
                f"WITH code AS ({CODE_UPDATE} RETURNING 1) "
                f"{FLOW_UPDATE} AND EXISTS (SELECT 1 FROM code)",
            )
        else:
            expected = (CODE_UPDATE, FLOW_UPDATE)
        assert statements.reservation_sql(connection, True) == expected

    def test_a_trusted_devices_flow_has_no_joined_share(self) -> None:
        code_update = statements.reservation_sql(connection, False)[0]
        assert "joined_attempts" not in code_update
        assert "attempts < %(max)s AND EXISTS" in code_update

    def test_counts_on_both_or_neither(self) -> None:
        session = flow()
        KodSession.objects.create(pk="01KODMOBI", origin=session.pk, attempts=4)
        assert OTPSession.objects.reserve_attempt(session)
        assert not OTPSession.objects.reserve_attempt(session)  # 5 of 5 spent
        assert KodSession.objects.get().attempts == 5
        assert OTPSession.objects.get().attempts == 1

    def test_a_closed_flow_counts_nowhere(self) -> None:
        session = flow()
        KodSession.objects.create(pk="01KODMOBI", origin=session.pk)
        OTPSession.objects.filter(pk=session.pk).update(status=Status.LOCKED)
        assert not OTPSession.objects.reserve_attempt(session)
        assert KodSession.objects.get().attempts == 0
        assert OTPSession.objects.get().attempts == 0


class ConsumeSQLTests(TestCase):
    def test_the_statement(self) -> None:
        sql = statements.consume_sql(
            connection, user=True, verifying=True, contact=True
        )
        assert sql == (
            'UPDATE "kodmobi_otpsession" SET status = %(consumed)s, consumed_at ='
            " %(now)s, updated_at = %(now)s, user_id = %(user)s, verified_at ="
            " %(verified_at)s, last_error = '' WHERE id = %(flow)s AND status IN"
            " (%(created)s, %(sent)s) AND consumed_at IS NULL AND expires_at >"
            ' %(now)s AND EXISTS (SELECT 1 FROM "kodmobi_contact" WHERE id ='
            " %(contact)s AND user_id = %(contact_user)s AND verified_at IS NOT"
            " NULL)"
        )

    def test_a_verified_flow_without_user_or_contact(self) -> None:
        sql = statements.consume_sql(
            connection, user=False, verifying=False, contact=False
        )
        assert sql == (
            'UPDATE "kodmobi_otpsession" SET status = %(consumed)s, consumed_at ='
            " %(now)s, updated_at = %(now)s WHERE id = %(flow)s AND status ="
            " %(verified)s AND consumed_at IS NULL AND expires_at > %(now)s"
        )

    def test_the_contacts_condition_on_its_own(self) -> None:
        from django.contrib.auth import get_user_model

        from django_kodmobi.models import Contact

        anna = get_user_model().objects.create_user("anna")
        contact = Contact.objects.create(
            user=anna, kind="phone", value="+79991234567", verified_at=clock.now()
        )
        with CaptureQueriesContext(connection) as captured:
            assert statements.contact_holds("default", contact)
        assert captured[0]["sql"].startswith(
            'SELECT EXISTS (SELECT 1 FROM "kodmobi_contact" WHERE id ='
        )
        Contact.objects.filter(pk=contact.pk).update(verified_at=None)
        assert not statements.contact_holds("default", contact)
        Contact.objects.filter(pk=contact.pk).update(verified_at=clock.now())
        contact.user_id = anna.pk + 1  # another user's now
        assert not statements.contact_holds("default", contact)

    def test_consumes_once_and_only_unexpired(self) -> None:
        session = flow(status=Status.VERIFIED)
        assert OTPSession.objects.consume(session)
        assert not OTPSession.objects.consume(session)
        assert OTPSession.objects.get().status == Status.CONSUMED
        late = flow(status=Status.VERIFIED)
        OTPSession.objects.filter(pk=late.pk).update(expires_at=clock.now())
        assert not OTPSession.objects.consume(late)


class RoundTripTests(TransactionTestCase):
    """One commit each; on PostgreSQL one statement, so one round trip."""

    def test_a_reservation(self) -> None:
        session = flow()
        KodSession.objects.create(pk="01KODMOBI", origin=session.pk)
        with database_work() as work:
            assert OTPSession.objects.reserve_attempt(session)
        assert (work.statements, work.commits) == ((1, 1) if POSTGRESQL else (2, 1))

    def test_writes_together(self) -> None:
        session = flow()
        using = "default"
        with CaptureQueriesContext(connection) as captured, database_work() as work:
            statements.write_together(
                using,
                [
                    statements.insert(
                        using,
                        [KodSession(pk="01KODMOBI", origin=session.pk)],
                        [f.name for f in KodSession._meta.concrete_fields],
                        ignore_conflicts=True,
                    ),
                    statements.update(
                        using, OTPSession, session.pk, {"channel": "sms"}
                    ),
                    statements.insert(
                        using,
                        [OTPEvent(session=session, kind="sent", channel="sms")],
                        ["session", "kind", "at", "channel", "detail"],
                    ),
                ],
            )
        assert (work.statements, work.commits) == ((1, 1) if POSTGRESQL else (3, 1))
        if POSTGRESQL:
            assert captured[0]["sql"].startswith(
                'WITH w0 AS (INSERT INTO "kodmobi_kodsession" ("id", "attempts",'
            )
        assert KodSession.objects.get().origin == session.pk
        assert OTPSession.objects.get().channel == "sms"
        assert list(OTPEvent.objects.values_list("kind", "channel")) == [
            ("sent", "sms")
        ]
