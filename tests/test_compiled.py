"""``CompiledLookup``: a queryset's SELECT compiled once returns what the
queryset itself returns, joins, annotations and converted values included."""

from __future__ import annotations

import gc
import threading
import weakref
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.db.models import QuerySet
from django.test import TestCase, TransactionTestCase
from django.test.utils import CaptureQueriesContext

from django_kodmobi import clock
from django_kodmobi.compiled import CompiledLookup
from django_kodmobi.models import Contact, FailureStreak, OTPSession
from django_kodmobi.services.flows import _flow_by_id, _flows_with_streak_hint


def a_flow(identifier: str = "anna@example.com") -> OTPSession:
    return OTPSession.objects.create(
        identifier=identifier,
        identifier_kind="email",
        kodmobi_session_id="01KODMOBI",
        flow_token_hash="-",
        streak_key="anna-key",
        channels_offered=["email", "sms"],
        expires_at=clock.now() + timedelta(minutes=5),
    )


def values(obj: object) -> dict[str, object]:
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


class FlowLookupTests(TestCase):
    def assert_same_as_the_queryset(self, pk: str) -> OTPSession:
        built = _flows_with_streak_hint().filter(pk=pk).get()
        compiled = _flow_by_id.get(pk)
        assert compiled is not None
        self.assertEqual(values(compiled), values(built))
        self.assertFalse(compiled._state.adding)
        self.assertEqual(compiled._state.db, "default")
        return compiled

    def test_a_flow_with_a_verified_contact_and_its_account(self) -> None:
        user = get_user_model().objects.create_user("anna", "anna@example.com")
        Contact.objects.create(
            user=user, kind="email", value="anna@example.com", verified_at=clock.now()
        )
        flow = a_flow()
        FailureStreak.objects.create(key="k", identifier_key="anna-key", failures=1)
        with CaptureQueriesContext(connection) as captured:
            compiled = self.assert_same_as_the_queryset(flow.pk)
            contact = compiled.verified_contact
            assert isinstance(contact, Contact)
            self.assertEqual(contact.user, user)
            self.assertEqual(values(contact.user), values(user))
        self.assertEqual(len(captured), 2)  # the queryset's, and one lookup
        self.assertIs(compiled.streak_free, False)  # type: ignore[attr-defined]
        # Converted as the ORM converts: aware datetimes, JSON lists.
        self.assertEqual(compiled.expires_at, flow.expires_at)
        self.assertIsNotNone(compiled.expires_at.tzinfo)
        self.assertEqual(compiled.channels_offered, ["email", "sms"])

    def test_a_flow_nobody_holds(self) -> None:
        compiled = self.assert_same_as_the_queryset(a_flow("nobody@example.com").pk)
        self.assertIsNone(compiled.verified_contact)
        self.assertIs(compiled.streak_free, True)  # type: ignore[attr-defined]

    def test_an_unverified_contact_is_not_joined(self) -> None:
        user = get_user_model().objects.create_user("anna", "anna@example.com")
        Contact.objects.create(user=user, kind="email", value="anna@example.com")
        compiled = _flow_by_id.get(a_flow().pk)
        assert compiled is not None
        self.assertIsNone(compiled.verified_contact)

    def test_no_such_row(self) -> None:
        a_flow()
        self.assertIsNone(_flow_by_id.get("0" * 26))

    def test_the_key_is_a_parameter_never_sql(self) -> None:
        flow = a_flow()
        self.assertIsNone(_flow_by_id.get(f"{flow.pk}' OR '1'='1"))

    def test_compiled_once_then_only_the_key_changes(self) -> None:
        built: list[int] = []

        def queryset() -> QuerySet[OTPSession]:
            built.append(1)
            return OTPSession.objects.all()

        lookup = CompiledLookup(queryset)
        first, second = a_flow(), a_flow("bob@example.com")
        with CaptureQueriesContext(connection) as captured:
            self.assertEqual(lookup.get(first.pk), first)
            self.assertEqual(lookup.get(second.pk), second)
        self.assertEqual(len(built), 1)
        self.assertEqual(len(captured), 2)  # one statement each, nothing more


class ThreadTests(TransactionTestCase):
    def test_each_thread_compiles_for_its_own_connection_and_keeps_none(
        self,
    ) -> None:
        lookup = CompiledLookup(lambda: OTPSession.objects.all())
        flow = a_flow()
        self.assertEqual(lookup.get(flow.pk), flow)
        found: list[object] = []
        thread_connection: list[weakref.ref[Any]] = []

        def in_a_thread() -> None:
            try:
                found.append(lookup.get(flow.pk))
                thread_connection.append(weakref.ref(connections["default"]))
            finally:
                connections.close_all()

        thread = threading.Thread(target=in_a_thread)
        thread.start()
        thread.join()
        self.assertEqual(found, [flow])
        del thread
        gc.collect()
        # The thread's connection, and what was compiled for it, are gone.
        self.assertIsNone(thread_connection[0]())
