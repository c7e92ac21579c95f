"""The admin's charts page: the last 30 days of the audit, as aggregates."""

from __future__ import annotations

import re
from datetime import date, timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_kodmobi.admin import stats
from django_kodmobi.admin.columns import Series, column_chart, nice_ceiling
from django_kodmobi.admin.stats import FunnelRow
from django_kodmobi.exceptions import VerificationError
from django_kodmobi.models import OTPSession, Purpose
from django_kodmobi.services import log_in, resend_code, start_login, verify_code
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import other_code, session_request

User = get_user_model()
ANNA, BOB, PHONE = "anna@example.com", "bob@example.com", "+79991234567"
CHARTS = "admin:kodmobi_otpsession_charts"


class ChartsTestCase(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        User.objects.create_user("anna", ANNA)

    def login(self, clock: time_machine.Traveller, to: str, wait: int) -> None:
        """A whole login whose right code comes ``wait`` seconds after it
        was sent."""
        flow = start_login(to)
        clock.shift(wait)
        verify_code(flow.session.pk, flow.token, self.kodmobi_code(to))
        log_in(session_request(), flow.session.pk, flow.token)

    def wrong(self, to: str) -> str:
        return other_code(self.kodmobi_code(to))

    def month_of_flows(self) -> None:
        """Email logins on two days (right codes after 40, 20 and 90 s), a
        phone flow with a wrong code, a refused login, one flow too old."""
        with time_machine.travel("2026-10-29 12:00Z", tick=False) as clock:
            self.login(clock, ANNA, 5)  # 30 days before: outside the window
        with time_machine.travel("2026-11-20 10:00Z", tick=False) as clock:
            self.login(clock, ANNA, 40)
            clock.shift(600)
            self.login(clock, ANNA, 20)
        with time_machine.travel("2026-11-27 22:00Z", tick=False) as clock:
            self.login(clock, ANNA, 90)
            phone = start_login(PHONE)
            self.phone_channel = phone.session.channel  # kod.mobi's pick
            with pytest.raises(VerificationError):
                verify_code(phone.session.pk, phone.token, self.wrong(PHONE))
        with time_machine.travel("2026-11-28 09:00Z", tick=False) as clock:
            bob = start_login(BOB)
            verify_code(bob.session.pk, bob.token, self.kodmobi_code(BOB))
            with pytest.raises(VerificationError):
                log_in(session_request(), bob.session.pk, bob.token)


class ReportTests(ChartsTestCase):
    def test_the_last_30_days_per_day_channel_and_reason(self) -> None:
        self.month_of_flows()
        phone_channel = self.phone_channel
        with time_machine.travel("2026-11-28 12:00Z", tick=False):
            report = stats.report(30)
        assert report.days[0] == date(2026, 10, 30)
        assert report.days[-1] == date(2026, 11, 28)
        assert len(report.days) == 30
        nov = {day: date(2026, 11, day) for day in (20, 27, 28)}
        assert report.starts == {nov[20]: 2, nov[27]: 2, nov[28]: 1}
        assert report.logins == {nov[20]: 2, nov[27]: 1}
        assert report.sends == {
            nov[20]: {"email": 2},
            nov[27]: {"email": 1, phone_channel: 1},
            nov[28]: {"email": 1},
        }
        assert report.channels == ["email", phone_channel]
        assert report.failures == [
            ("code_rejected", "", 1),
            ("login_refused", "no_account", 1),
        ]
        assert report.funnel == [
            FunnelRow("email", started=4, sent=4, verified=4, logged_in=3),
            FunnelRow(phone_channel, started=1, sent=1, verified=0, logged_in=0),
        ]
        # 40, 20, 90 and Bob's 0 s: the median of four is the mean of the
        # middle two.
        assert report.time_to_code == {"email": timedelta(seconds=30)}

    def test_a_median_of_an_odd_count_is_the_middle_wait(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            for wait in (90, 20, 40):
                self.login(clock, ANNA, wait)
                clock.shift(120)
            report = stats.report(30)
        assert report.time_to_code == {"email": timedelta(seconds=40)}

    def test_the_wait_runs_from_the_last_send(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            flow = start_login(ANNA)
            clock.shift(100)
            resend_code(flow.session.pk, flow.token, "email")
            clock.shift(15)
            verify_code(flow.session.pk, flow.token, self.kodmobi_code(ANNA))
            report = stats.report(30)
        assert report.time_to_code == {"email": timedelta(seconds=15)}

    def test_a_day_starts_at_midnight_in_the_sites_time_zone(self) -> None:
        with (
            self.settings(TIME_ZONE="Europe/Moscow"),
            time_machine.travel("2026-11-27 21:30Z", tick=False),  # 00:30 MSK
        ):
            start_login(ANNA)
            report = stats.report(30)
        assert report.days[-1] == date(2026, 11, 28)
        assert report.starts == {date(2026, 11, 28): 1}

    def test_flows_that_are_not_logins_stay_out_of_the_funnel(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False):
            start_login(ANNA, purpose=Purpose.VERIFY_CONTACT)
            report = stats.report(30)
        assert report.starts == {date(2026, 11, 28): 1}
        assert report.funnel == []

    def verified_phone(self, clock: time_machine.Traveller) -> None:
        flow = start_login(PHONE)
        clock.shift(30)
        verify_code(flow.session.pk, flow.token, self.kodmobi_code(PHONE))
        clock.shift(300)  # past the phone's cooldown

    def test_the_statements_do_not_grow_with_the_rows(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.login(clock, ANNA, 10)
            self.verified_phone(clock)
            with CaptureQueriesContext(connection) as few:
                stats.report(30)
            for wait in range(4):
                self.login(clock, ANNA, wait)
                self.verified_phone(clock)
            with CaptureQueriesContext(connection) as many:
                report = stats.report(30)
        # One scan of the events, one of the sessions.
        assert len(report.time_to_code) == 2
        assert len(few) == len(many) == 2

    def test_settled_days_come_from_the_cache(self) -> None:
        with time_machine.travel("2026-11-20 10:00Z", tick=False) as clock:
            self.login(clock, ANNA, 10)
        with time_machine.travel("2026-11-27 10:00Z", tick=False) as clock:
            self.login(clock, ANNA, 10)
        with time_machine.travel("2026-11-28 12:00Z", tick=False):
            first = stats.report(30)
            OTPSession.objects.update(channel="sms")  # rewrites both days
            with CaptureQueriesContext(connection) as queries:
                second = stats.report(30)
        settled, yesterday = date(2026, 11, 20), date(2026, 11, 27)
        assert first.funnel == [FunnelRow("email", 2, 2, 2, 2)]
        # The 20th is settled: read once. Yesterday is read again.
        assert second.funnel == [
            FunnelRow("email", 1, 1, 1, 1),
            FunnelRow("sms", 1, 1, 1, 1),
        ]
        assert second.starts == first.starts == {settled: 1, yesterday: 1}
        assert all("2026-11-27" in q["sql"] for q in queries.captured_queries)

    def test_each_time_zone_has_its_own_days(self) -> None:
        with time_machine.travel("2026-11-20 22:30Z", tick=False):  # 01:30 MSK
            start_login(ANNA)
        with time_machine.travel("2026-11-28 12:00Z", tick=False):
            in_utc = stats.report(30)
            with self.settings(TIME_ZONE="Europe/Moscow"):
                in_moscow = stats.report(30)
        assert in_utc.starts == {date(2026, 11, 20): 1}
        assert in_moscow.starts == {date(2026, 11, 21): 1}

    def test_a_flow_with_no_channel_has_no_wait(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.login(clock, ANNA, 10)
            OTPSession.objects.update(channel="")
            report = stats.report(30)
        assert report.time_to_code == {}
        assert report.funnel == [FunnelRow("", 1, 1, 1, 1)]

    def test_a_wait_counts_whole_seconds(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            for wait in (40.9, 40.2, 100):
                flow = start_login(ANNA)
                clock.shift(wait)
                verify_code(flow.session.pk, flow.token, self.kodmobi_code(ANNA))
                clock.shift(120)
            report = stats.report(30)
        # Two flows in the 40th second, one at 100: the median is 40 s.
        assert report.time_to_code == {"email": timedelta(seconds=40)}


@pytest.mark.parametrize(
    ("counts", "seconds"),
    [
        ({7: 1}, 7),
        ({20: 1, 40: 1}, 30),
        ({10: 2, 50: 1}, 10),
        ({5: 1, 6: 1, 100: 2}, 53),
        ({1: 1, 2: 1, 3: 1, 4: 1, 5: 1}, 3),
    ],
)
def test_the_median_of_counted_values(counts: dict[int, int], seconds: float) -> None:
    assert stats.median(counts) == timedelta(seconds=seconds)


class ChartGeometryTests(TestCase):
    def test_nice_ceilings(self) -> None:
        cases = {0: 1, 1: 1, 2: 2, 3: 5, 7: 10, 10: 10, 11: 20, 240: 500, 501: 1000}
        assert {value: nice_ceiling(value) for value in cases} == cases

    def test_columns_stack_in_order_and_scale_to_the_top(self) -> None:
        days = [date(2026, 11, 27), date(2026, 11, 28)]
        chart = column_chart(
            days,
            [
                Series("email", "a", {days[0]: 3, days[1]: 1}),
                Series("sms", "b", {days[0]: 1}),
            ],
        )
        assert chart.total == 5
        assert [t.text for t in chart.y_ticks] == ["0", "2", "5"]
        first, second, third = chart.bars
        assert (first.css, second.css, third.css) == ("a", "b", "a")
        # 3 of 5 and 1 of 5 of the plot's height, stacked bottom up.
        assert first.height == pytest.approx(3 * second.height, abs=0.02)
        assert second.y + second.height == pytest.approx(first.y, abs=0.02)
        assert first.y + first.height == chart.height - 22
        assert first.x < third.x
        assert first.title.endswith(": email 3")

    def test_a_week_of_labels_ends_today(self) -> None:
        days = [date(2026, 11, 1) + timedelta(days=n) for n in range(28)]
        chart = column_chart(days, [Series("x", "a", {})])
        assert [t.text for t in chart.x_ticks] == [
            "7 Nov",
            "14 Nov",
            "21 Nov",
            "28 Nov",
        ]
        assert chart.bars == [] and chart.total == 0


class ChartsPageTests(ChartsTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.admin = User.objects.create_superuser("admin", "admin@example.com", "pw")

    def page(self, **headers: str) -> str:
        with time_machine.travel("2026-11-28 12:00Z", tick=False):
            response = self.client.get(reverse(CHARTS), headers=headers)
        assert response.status_code == HTTPStatus.OK
        return response.content.decode()

    def test_the_sessions_list_links_to_the_charts(self) -> None:
        self.client.force_login(self.admin)
        response = self.client.get(reverse("admin:kodmobi_otpsession_changelist"))
        assert reverse(CHARTS) in response.content.decode()

    def test_the_page_draws_each_chart_with_its_numbers(self) -> None:
        self.month_of_flows()
        self.client.force_login(self.admin)
        content = self.page()
        assert content.count('<svg class="kodmobi-chart"') == 3
        assert "<title>20 Nov: flows started 2</title>" in content
        assert "<title>27 Nov: Email 1</title>" in content
        assert "<title>20 Nov: logins 2</title>" in content
        assert '<th scope="row">wrong code</th>' in content
        assert "login refused: no account (signup off) (no_account)" in content
        assert '4 <span class="kodmobi-share">(100%)</span>' in content
        assert '3 <span class="kodmobi-share">(75%)</span>' in content
        assert "30 s" in content
        assert ANNA not in content and BOB not in content and PHONE not in content
        # No script, no inline style: the page holds under a strict CSP.
        assert "style=" not in content and "<script>" not in content

    def test_an_empty_month_says_so(self) -> None:
        self.client.force_login(self.admin)
        content = self.page()
        assert content.count("Nothing in these days.") == 3
        assert '<rect class="kodmobi-series' not in content

    def test_coordinates_stay_numbers_in_russian(self) -> None:
        self.month_of_flows()
        self.client.force_login(self.admin)
        content = self.page(accept_language="ru")
        assert "Воронка входа" in content
        shapes = " ".join(
            re.findall(r'<(?:rect|line|text) class="kodmobi-[^>]*>', content)
        )
        numbers = re.findall(r' (?:x\d?|y\d?|width|height)="([^"]*)"', shapes)
        assert numbers
        odd = [n for n in numbers if not re.fullmatch(r"-?\d+(\.\d+)?", n)]
        assert odd == []

    def test_staff_without_view_permission_is_refused(self) -> None:
        clerk = User.objects.create_user("clerk", "clerk@example.com", is_staff=True)
        self.client.force_login(clerk)
        assert self.client.get(reverse(CHARTS)).status_code == HTTPStatus.FORBIDDEN
        clerk.user_permissions.add(Permission.objects.get(codename="view_otpsession"))
        assert self.client.get(reverse(CHARTS)).status_code == HTTPStatus.OK

    def test_anonymous_people_are_sent_to_the_admin_login(self) -> None:
        response = self.client.get(reverse(CHARTS))
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith(reverse("admin:login"))
