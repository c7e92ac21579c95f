"""The read-only audit in the Django admin."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.urls import reverse

from django_kodmobi.exceptions import VerificationError
from django_kodmobi.services import ClientInfo, log_in, start_login, verify_code
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import session_request

User = get_user_model()


class AdminTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.anna = User.objects.create_user("anna", "anna@example.com")
        flow = start_login("anna@example.com")
        verify_code(flow.session.pk, flow.token, self.kodmobi_code("anna@example.com"))
        log_in(session_request(), flow.session.pk, flow.token)
        self.session = flow.session
        self.other = start_login("+79991234567").session
        admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
        self.client.force_login(admin)

    def test_change_list_masks_identifiers(self) -> None:
        response = self.client.get(reverse("admin:kodmobi_otpsession_changelist"))
        assert response.status_code == HTTPStatus.OK
        content = response.content.decode()
        assert "a***@example.com" in content
        assert "+7******4567" in content
        assert "+79991234567" not in content
        assert "anna@example.com" not in content

    def test_filters(self) -> None:
        url = reverse("admin:kodmobi_otpsession_changelist")
        response = self.client.get(url, {"status__exact": "consumed"})
        assert response.context["cl"].result_count == 1
        response = self.client.get(
            url, {"channel__exact": "telegram", "purpose__exact": "login"}
        )
        assert list(response.context["cl"].result_list) == [self.other]

    def test_search_by_ulid_and_by_identifier_as_typed(self) -> None:
        url = reverse("admin:kodmobi_otpsession_changelist")
        for term in [
            self.session.pk,
            "ANNA@example.com",
            self.session.kodmobi_session_id,
        ]:
            response = self.client.get(url, {"q": term})
            assert list(response.context["cl"].result_list) == [self.session], term
        response = self.client.get(url, {"q": "+7 (999) 123-45-67"})
        assert list(response.context["cl"].result_list) == [self.other]
        response = self.client.get(url, {"q": "nobody"})
        assert response.context["cl"].result_count == 0

    def test_detail_shows_the_timeline_and_user_link(self) -> None:
        url = reverse("admin:kodmobi_otpsession_change", args=[self.session.pk])
        response = self.client.get(url)
        assert response.status_code == HTTPStatus.OK
        content = response.content.decode()
        for kind in ["created", "code sent", "verified", "logged in"]:
            assert kind in content
        assert reverse("admin:auth_user_change", args=[self.anna.pk]) in content
        assert 'name="_save"' not in content

    def test_read_only(self) -> None:
        assert (
            self.client.get(reverse("admin:kodmobi_otpsession_add")).status_code
            == HTTPStatus.FORBIDDEN
        )
        delete = reverse("admin:kodmobi_otpsession_delete", args=[self.session.pk])
        assert (
            self.client.post(delete, {"post": "yes"}).status_code
            == HTTPStatus.FORBIDDEN
        )
        change = reverse("admin:kodmobi_otpsession_change", args=[self.other.pk])
        self.client.post(change, {"status": "verified"})
        self.other.refresh_from_db()
        assert self.other.status == "sent"


@override_settings(
    KODMOBI={**settings.KODMOBI, "MAX_FAILURES": 2, "FAILURE_COOLDOWNS": ()}
)
class FailureStreakAdminTests(KodMobiTestMixin, TestCase):
    """An admin finds a stopped phone by typing it, and lets it in again."""

    def test_find_and_reset(self) -> None:
        from django_kodmobi import guards
        from django_kodmobi.exceptions import Failure, VerificationError
        from django_kodmobi.models import FailureStreak

        phone = "+79991234567"
        guards.record_failure(phone, "203.0.113.1")
        guards.record_failure(phone, "203.0.113.2")
        guards.record_failure("+79990000000", "203.0.113.1")
        with pytest.raises(VerificationError) as info:
            start_login(phone)
        assert info.value.reason is Failure.TOO_MANY_FAILURES
        admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
        self.client.force_login(admin)
        changelist = reverse("admin:kodmobi_failurestreak_changelist")
        found = self.client.get(changelist, {"q": "+7 (999) 123-45-67"})
        assert found.context["cl"].result_count == 1 + 2  # its own and per-IP
        assert (
            self.client.get(changelist, {"q": "not a phone"}).context["cl"].result_count
            == 0
        )
        streak = FailureStreak.objects.get(pk=guards.streak_key(phone))
        # Found and reset, never written by hand.
        add = reverse("admin:kodmobi_failurestreak_add")
        assert self.client.get(add).status_code == HTTPStatus.FORBIDDEN
        change = reverse("admin:kodmobi_failurestreak_change", args=[streak.pk])
        page = self.client.get(change).content.decode()
        assert "View failure streak" in page and 'name="failures"' not in page
        self.client.post(change, {"failures": 0})
        streak.refresh_from_db()
        assert streak.failures == 2
        self.client.post(
            reverse("admin:kodmobi_failurestreak_delete", args=[streak.pk]),
            {"post": "yes"},
        )
        start_login(phone)


class AuditAnswersWhenAndWhyTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
        self.client.force_login(admin)

    def test_reasons_times_and_masks(self) -> None:
        stranger = start_login(
            "stranger@example.com", client=ClientInfo("203.0.113.9", "Firefox")
        )
        code = self.kodmobi_code("stranger@example.com")
        verify_code(stranger.session.pk, stranger.token, code)
        with pytest.raises(VerificationError):
            log_in(session_request(), stranger.session.pk, stranger.token)
        listing = self.client.get(
            reverse("admin:kodmobi_otpsession_changelist")
        ).content.decode()
        assert "no account (signup off) (no_account)" in listing
        assert "203.0.113.9" in listing  # the IP column
        detail = self.client.get(
            reverse("admin:kodmobi_otpsession_change", args=[stranger.session.pk])
        ).content.decode()
        assert "stranger@example.com" not in detail  # masked like the list
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", detail)
        # The channels that could reach it, readable: kod.mobi lists them all.
        assert re.search(r"<div class=\"readonly\">Email</div>", detail)
        assert "is_active" not in detail  # not raw JSON
        phone = start_login("+79991234567")
        detail = self.client.get(
            reverse("admin:kodmobi_otpsession_change", args=[phone.session.pk])
        ).content.decode()
        assert "Telegram, WhatsApp, SMS<" in detail
        assert "SMS, Email" not in detail  # a phone is not offered Email

    def test_every_wrong_code_today_across_sessions(self) -> None:
        for identifier in ["a@example.com", "b@example.com"]:
            flow = start_login(identifier)
            with pytest.raises(VerificationError):
                verify_code(flow.session.pk, flow.token, "000000")
        url = reverse("admin:kodmobi_otpevent_changelist")
        response = self.client.get(url, {"kind__exact": "code_rejected"})
        assert response.status_code == HTTPStatus.OK
        assert response.context["cl"].result_count == 2
        content = response.content.decode()
        assert "a***@example.com" in content
        # The filter offers the kinds by their labels, the newest come first.
        assert ">wrong code</a>" in content
        events = list(response.context["cl"].result_list)
        assert events == sorted(events, key=lambda e: (e.at, e.pk), reverse=True)

    def test_a_flow_past_its_expiry_shows_as_expired_before_cleanup(self) -> None:
        from datetime import timedelta

        from django_kodmobi.models import OTPSession

        other = start_login("+79991234567").session
        OTPSession.objects.filter(pk=other.pk).update(
            expires_at=other.expires_at - timedelta(days=1)
        )
        response = self.client.get(reverse("admin:kodmobi_otpsession_changelist"))
        row = next(
            r for r in response.content.decode().split("<tr") if "+7******4567" in r
        )
        assert ">expired<" in row
        assert OTPSession.objects.get(pk=other.pk).status == "sent"

    def test_only_purposes_that_occur_are_offered(self) -> None:
        start_login("a@example.com")
        response = self.client.get(reverse("admin:kodmobi_otpsession_changelist"))
        purposes = next(
            spec
            for spec in response.context["cl"].filter_specs
            if getattr(spec, "field_path", "") == "purpose"
        )
        assert list(purposes.lookup_choices) == ["login"]


class AdminPiecesTests(TestCase):
    @override_settings(TIME_ZONE="Europe/Moscow")
    def test_times_to_the_second_in_the_sites_zone(self) -> None:
        from datetime import datetime, timezone

        from django_kodmobi.admin.base import to_the_second

        moment = datetime(2026, 11, 28, 10, 0, 5, 999_000, tzinfo=timezone.utc)
        assert to_the_second(moment) == "2026-11-28 13:00:05"
        assert to_the_second(None) == "-"

    def test_reasons_unknown_and_none(self) -> None:
        from django_kodmobi.reasons import label

        assert label("no_account") == "no account (signup off) (no_account)"
        assert (label("something_new"), label("")) == ("something_new", "")

    def test_a_users_contacts_are_on_their_admin_page(self) -> None:
        from django_kodmobi.models import Contact

        admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
        Contact.objects.create(user=admin, kind="phone", value="+79991234567")
        self.client.force_login(admin)
        page = self.client.get(reverse("admin:auth_user_change", args=[admin.pk]))
        assert page.status_code == HTTPStatus.OK
        content = page.content.decode()
        assert "+7******4567" in content and "+79991234567" not in content
