"""Verified contacts: adding, proving, the login lookup, removal, and the
rules that keep one person's phone out of another's account."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext

from django_kodmobi import signals
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import Contact, OTPSession, Purpose, Status
from django_kodmobi.services import (
    ClientInfo,
    log_in,
    start_login,
    verify_and_log_in,
    verify_code,
)
from django_kodmobi.services import login as services_login
from django_kodmobi.services.contacts import (
    add_contact,
    make_primary,
    remove_contact,
    verify_contact,
)
from django_kodmobi.services.flows import Flow
from django_kodmobi.services.verify import redeem_code
from django_kodmobi.testing import KodMobiTestMixin
from django_kodmobi.users import find_account, normalize_identifier

from .helpers import other_code, session_request

User = get_user_model()
PHONE, EMAIL, OTHER_EMAIL = "+79991234567", "anna@example.com", "anna@work.example"


class ContactTestCase(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.anna = User.objects.create_user("anna", EMAIL)
        self.bob = User.objects.create_user("bob", "bob@example.com")

    def prove(self, user: Any, value: str) -> Contact:
        flow = add_contact(user, value)
        code = self.kodmobi_code(flow.session.identifier)
        return verify_contact(user, flow.session.pk, flow.token, code)

    def wrong(self, to: str) -> str:
        return other_code(self.kodmobi_code(to))

    def login(self, to: str) -> Any:
        flow = start_login(to)
        verify_code(flow.session.pk, flow.token, self.kodmobi_code(to))
        return log_in(session_request(), flow.session.pk, flow.token)


class AddAndVerifyTests(ContactTestCase):
    def test_a_proven_phone_is_verified_primary_and_logs_in(self) -> None:
        seen: list[tuple[Any, ...]] = []
        for name in ("contact_added", "contact_verified", "contact_removed"):
            getattr(signals, name).connect(
                lambda sender, user, contact, name=name, **kw: seen.append(
                    (name, sender, user, contact.value)
                ),
                weak=False,
            )
        try:
            contact = self.prove(self.anna, "+7 999 123-45-67")
            assert (contact.value, contact.kind, contact.primary) == (
                PHONE,
                "phone",
                True,
            )
            assert contact.is_verified
            # The suite's resolver knows no phones: the contact alone logs in.
            assert self.login(PHONE) == self.anna
            remove_contact(self.anna, contact.pk)
        finally:
            signals.contact_added.receivers.clear()
            signals.contact_verified.receivers.clear()
            signals.contact_removed.receivers.clear()
        assert seen == [
            (name, Contact, self.anna, PHONE)
            for name in ("contact_added", "contact_verified", "contact_removed")
        ]

    def test_a_second_contact_of_a_kind_is_not_primary(self) -> None:
        self.prove(self.anna, OTHER_EMAIL)
        second = self.prove(self.anna, "anna@home.example")
        assert not second.primary
        assert make_primary(self.anna, second.pk).primary
        primaries = Contact.objects.filter(user=self.anna, primary=True)
        assert list(primaries.values_list("value", flat=True)) == ["anna@home.example"]

    def test_primaries_are_per_user_and_per_kind(self) -> None:
        self.prove(self.bob, "bob@work.example")
        self.prove(self.anna, PHONE)
        # Her first email is primary, whatever Bob's email or her own phone.
        assert self.prove(self.anna, OTHER_EMAIL).primary
        second = self.prove(self.anna, "anna@home.example")
        make_primary(self.anna, second.pk)
        assert set(
            Contact.objects.filter(primary=True).values_list("value", flat=True)
        ) == {"bob@work.example", PHONE, "anna@home.example"}

    def test_the_flow_is_started_as_asked(self) -> None:
        client = ClientInfo("203.0.113.5", "Firefox")
        flow = add_contact(self.anna, PHONE, channel="sms", client=client)
        assert (flow.session.channel, flow.session.client_ip) == ("sms", client.ip)
        self.kodmobi.config.challenge_enabled = True
        token = self.kodmobi.config.challenge_token
        with pytest.raises(VerificationError) as info:
            add_contact(self.anna, OTHER_EMAIL)
        assert info.value.reason is Failure.CHALLENGE_FAILED
        assert add_contact(
            self.anna, OTHER_EMAIL, challenge_token=token
        ).session.sent_at

    def test_the_login_lookup_is_one_indexed_query(self) -> None:
        self.prove(self.anna, PHONE)
        with CaptureQueriesContext(connection) as queries:
            account = find_account(normalize_identifier(PHONE))
        assert account.user == self.anna and account.by_contact
        assert len(queries) == 1
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET enable_seqscan = off")
                cursor.execute("EXPLAIN " + queries[0]["sql"])
                plan = " ".join(row[0] for row in cursor.fetchall())
                cursor.execute("SET enable_seqscan = on")
            assert "kodmobi_contact_verified_once" in plan

    def test_already_mine(self) -> None:
        self.prove(self.anna, PHONE)
        with pytest.raises(VerificationError) as info:
            add_contact(self.anna, PHONE)
        assert info.value.reason is Failure.CONTACT_EXISTS
        assert self.kodmobi.calls["create"] == 1


class OwnershipTests(ContactTestCase):
    def test_nobody_learns_whose_a_number_is_before_the_code(self) -> None:
        self.prove(self.bob, PHONE)
        free, taken = (
            add_contact(self.anna, "+79991234568"),
            add_contact(self.anna, PHONE),
        )
        assert type(free) is type(taken) is Flow
        assert free.session.status == taken.session.status == Status.SENT
        # Only the right code for it says the number is someone else's.
        with pytest.raises(VerificationError) as info:
            verify_contact(
                self.anna, taken.session.pk, taken.token, self.kodmobi_code(PHONE)
            )
        assert info.value.reason is Failure.CONTACT_UNAVAILABLE
        assert find_account(normalize_identifier(PHONE)).user == self.bob

    def test_two_people_adding_one_number_only_the_first_proof_wins(self) -> None:
        first, second = add_contact(self.anna, PHONE), add_contact(self.bob, PHONE)
        code = self.kodmobi_code(PHONE)  # both flows share kod.mobi's session
        verify_contact(self.anna, first.session.pk, first.token, code)
        with pytest.raises(VerificationError) as info:
            verify_contact(self.bob, second.session.pk, second.token, code)
        assert info.value.reason in (Failure.CONTACT_UNAVAILABLE, Failure.ALREADY_USED)
        assert Contact.objects.verified().get(value=PHONE).user == self.anna

    def test_only_the_user_who_added_it_can_verify(self) -> None:
        flow = add_contact(self.anna, PHONE)
        with pytest.raises(VerificationError) as info:
            verify_contact(
                self.bob, flow.session.pk, flow.token, self.kodmobi_code(PHONE)
            )
        assert info.value.reason is Failure.NOT_FOUND
        assert self.kodmobi.calls["check"] == 0

    def test_a_login_flow_does_not_verify_a_contact(self) -> None:
        flow = start_login(PHONE)
        with pytest.raises(VerificationError) as info:
            verify_contact(
                self.anna, flow.session.pk, flow.token, self.kodmobi_code(PHONE)
            )
        assert info.value.reason is Failure.NOT_FOUND

    def test_a_flow_of_another_purpose_does_not_verify_a_contact(self) -> None:
        flow = start_login(PHONE, purpose=Purpose.STEP_UP)
        OTPSession.objects.filter(pk=flow.session.pk).update(user=self.anna)
        with pytest.raises(VerificationError) as info:
            verify_contact(
                self.anna, flow.session.pk, flow.token, self.kodmobi_code(PHONE)
            )
        assert info.value.reason is Failure.NOT_FOUND
        assert self.kodmobi.calls["check"] == 0

    def test_a_contact_code_is_used_once(self) -> None:
        flow = add_contact(self.anna, PHONE)
        code = self.kodmobi_code(PHONE)
        verify_contact(self.anna, flow.session.pk, flow.token, code)
        assert OTPSession.objects.get(pk=flow.session.pk).status == Status.CONSUMED
        with pytest.raises(VerificationError):
            verify_contact(self.anna, flow.session.pk, flow.token, code)

    def test_a_contact_code_does_not_log_in(self) -> None:
        self.prove(self.anna, PHONE)
        flow = add_contact(self.bob, "+79991234568")
        verify_code(flow.session.pk, flow.token, self.kodmobi_code("+79991234568"))
        with pytest.raises(VerificationError) as info:
            log_in(session_request(), flow.session.pk, flow.token)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED
        assert OTPSession.objects.get(pk=flow.session.pk).status == Status.VERIFIED

    def test_wrong_codes_are_capped_as_at_login(self) -> None:
        flow = add_contact(self.anna, PHONE)
        for _ in range(5):
            with pytest.raises(VerificationError):
                verify_contact(
                    self.anna, flow.session.pk, flow.token, self.wrong(PHONE)
                )
        with pytest.raises(VerificationError) as info:
            verify_contact(
                self.anna, flow.session.pk, flow.token, self.kodmobi_code(PHONE)
            )
        assert info.value.reason is Failure.LOCKED
        assert self.kodmobi.calls["check"] == 5
        assert not Contact.objects.verified().exists()

    def test_adding_counts_against_the_send_limits(self) -> None:
        limits = {**settings.KODMOBI["RATE_LIMITS"], "sends_per_identifier": "1/h"}
        with override_settings(KODMOBI={**settings.KODMOBI, "RATE_LIMITS": limits}):
            add_contact(self.anna, PHONE)
            with pytest.raises(VerificationError) as info:
                add_contact(self.anna, PHONE)
        assert info.value.reason is Failure.RATE_LIMITED
        assert self.kodmobi.calls["create"] == 1


class RemovalTests(ContactTestCase):
    def test_a_removed_contact_no_longer_logs_in(self) -> None:
        contact = self.prove(self.anna, PHONE)
        remove_contact(self.anna, contact.pk)
        with pytest.raises(VerificationError) as info:
            self.login(PHONE)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED

    def test_removed_while_the_code_is_checked_it_logs_nobody_in(self) -> None:
        # The flow is loaded with the contact and its user before kod.mobi
        # checks the code; the consume holds only while the contact does.
        contact = self.prove(self.anna, PHONE)
        flow = start_login(PHONE)

        def removed_meanwhile(*args: Any, **kwargs: Any) -> bool:
            had_streak = redeem_code(*args, **kwargs)
            remove_contact(self.anna, contact.pk)
            return had_streak

        with (
            mock.patch.object(services_login, "redeem_code", removed_meanwhile),
            pytest.raises(VerificationError) as info,
        ):
            verify_and_log_in(
                session_request(), flow.session.pk, flow.token, self.kodmobi_code(PHONE)
            )
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED
        row = OTPSession.objects.get(pk=flow.session.pk)
        assert (row.status, row.user, row.last_error) == (
            Status.VERIFIED,
            None,
            "contact_removed",
        )

    def test_not_even_through_the_user_field(self) -> None:
        assert self.login(EMAIL) == self.anna  # found by User.email, remembered
        contact = Contact.objects.get(user=self.anna, value=EMAIL)
        assert contact.is_verified
        remove_contact(self.anna, contact.pk)
        with pytest.raises(VerificationError) as info:
            self.login(EMAIL)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED

    def test_only_that_users_removal_of_that_value_bars_a_user_field(self) -> None:
        add_contact(self.anna, EMAIL)  # pending: never proven
        removed = self.prove(self.anna, PHONE)  # another value of hers
        remove_contact(self.anna, removed.pk)
        borrowed = self.prove(self.bob, EMAIL)  # another account's removal
        remove_contact(self.bob, borrowed.pk)
        assert self.login(EMAIL) == self.anna

    def test_a_value_proven_again_is_no_longer_removed(self) -> None:
        contact = self.prove(self.anna, PHONE)
        remove_contact(self.anna, contact.pk)
        again = self.prove(self.anna, PHONE)
        assert (again.pk, again.removed_at, again.is_verified) == (
            contact.pk,
            None,
            True,
        )

    def test_a_removed_value_is_free_for_another_account(self) -> None:
        contact = self.prove(self.anna, PHONE)
        remove_contact(self.anna, contact.pk)
        self.prove(self.bob, PHONE)
        assert self.login(PHONE) == self.bob

    def test_only_ones_own_contacts(self) -> None:
        contact = self.prove(self.anna, PHONE)
        for action in (remove_contact, make_primary):
            with pytest.raises(VerificationError) as info:
                action(self.bob, contact.pk)
            assert info.value.reason is Failure.NOT_FOUND
        remove_contact(self.anna, contact.pk)
        for action in (remove_contact, make_primary):
            with pytest.raises(VerificationError):
                action(self.anna, contact.pk)
        with pytest.raises(VerificationError):
            make_primary(self.anna, "not a number")


class RememberTests(ContactTestCase):
    def test_the_first_login_records_the_contact_the_next_finds_it(self) -> None:
        self.login(EMAIL)
        account = find_account(normalize_identifier(EMAIL))
        assert account.user == self.anna and account.by_contact

    def test_a_value_another_account_holds_is_not_recorded_twice(self) -> None:
        self.prove(self.bob, EMAIL)  # Bob proved Anna's address first
        assert self.login(EMAIL) == self.bob
        assert not Contact.objects.filter(user=self.anna).exists()

    def test_purposes_stay_apart(self) -> None:
        flow = start_login(EMAIL, purpose=Purpose.STEP_UP)
        verify_code(flow.session.pk, flow.token, self.kodmobi_code(EMAIL))
        with pytest.raises(VerificationError) as info:
            log_in(session_request(), flow.session.pk, flow.token)
        assert info.value.reason is Failure.LOGIN_NOT_ALLOWED


class ContactAdminTests(ContactTestCase):
    def test_contacts_show_masked_on_the_users_page_and_in_their_list(self) -> None:
        from django.urls import reverse

        self.prove(self.anna, PHONE)
        admin = User.objects.create_superuser("admin", "admin@example.com", "x")
        self.client.force_login(admin)
        page = self.client.get(
            reverse("admin:auth_user_change", args=[self.anna.pk])
        ).content.decode()
        assert "+7******4567" in page and PHONE not in page
        listing = self.client.get(
            reverse("admin:kodmobi_contact_changelist"), {"q": "+7 999 123 45 67"}
        )
        assert list(listing.context["cl"].result_list) == [
            Contact.objects.get(value=PHONE)
        ]
        assert PHONE not in listing.content.decode()


class FillCommandTests(ContactTestCase):
    def run_fill(self, *args: str) -> str:
        import io

        from django.core.management import call_command

        out = io.StringIO()
        call_command("kodmobi_fill_contacts", *args, stdout=out)
        return out.getvalue()

    @override_settings(KODMOBI={**settings.KODMOBI, "USER_PHONE_FIELD": "username"})
    def test_user_fields_become_verified_contacts_once(self) -> None:
        User.objects.create_user(PHONE)  # a phone in the username field
        User.objects.create_user("eve", "shared@example.com")
        User.objects.create_user("mallory", "Shared@Example.com")
        User.objects.create_user("nobody")  # no email, a name for username
        removed = Contact.objects.create(
            user=self.bob, kind="email", value="bob@example.com"
        )
        remove_contact(self.bob, removed.pk)
        assert "Would record up to 3 contact(s)" in self.run_fill("--dry-run")
        assert not Contact.objects.verified().exists()
        output = self.run_fill("--batch-size", "1")
        assert "Recorded 2 contact(s); skipped 1 value(s) shared" in output
        assert set(Contact.objects.verified().values_list("value", "user")) == {
            (EMAIL, self.anna.pk),
            (PHONE, User.objects.get(username=PHONE).pk),
        }
        assert "Recorded 0 contact(s)" in self.run_fill()
        # Bob removed his address: it stays removed and cannot log in.
        assert find_account(normalize_identifier("bob@example.com")).user is None
