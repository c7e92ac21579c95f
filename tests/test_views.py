"""The server-rendered pages and the widget, without JavaScript."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import time_machine
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import TestCase, modify_settings, override_settings
from django.urls import reverse
from django.utils import translation

from django_kodmobi.models import OTPSession, Status
from django_kodmobi.pages.login import FLOW_KEY
from django_kodmobi.sandbox import Fault, FaultKind
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import other_code

User = get_user_model()
EMAIL = "anna@example.com"
PHONE = "+79991234567"


class PageTestCase(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.user = User.objects.create_user("anna", EMAIL)
        self.user_phone = PHONE

    def start(self, identifier: str = EMAIL, **extra: Any) -> Any:
        return self.client.post(
            reverse("kodmobi:login"), {"identifier": identifier, **extra}
        )

    def wrong(self, to: str) -> str:
        return other_code(self.kodmobi_code(to))


class LoginPageTests(PageTestCase):
    def test_page_shows_the_project_channels(self) -> None:
        response = self.client.get(reverse("kodmobi:login"))
        assert response.status_code == HTTPStatus.OK
        content = response.content.decode()
        for name in ["Telegram", "WhatsApp", "SMS", "Email"]:
            assert name in content
        assert 'autocomplete="username"' in content
        assert '<label class="kodmobi-label" for="id_identifier">' in content
        assert (
            "<script>" not in content
            and "onclick" not in content
            and "style=" not in content
        )

    def test_sending_first(self) -> None:
        response = self.start(EMAIL)
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"] == reverse("kodmobi:code")
        page = self.client.get(reverse("kodmobi:code"))
        content = page.content.decode()
        assert "We sent a code to Email, a•••@example.com." in content
        assert (
            'autocomplete="one-time-code"' in content
            and 'inputmode="numeric"' in content
        )

    def test_channel_first(self) -> None:
        self.start(PHONE, channel="sms")
        content = self.client.get(reverse("kodmobi:code")).content.decode()
        assert "We sent a code to SMS, +7\u00a0•••\u00a0•••\u00a045\u00a067." in content
        assert OTPSession.objects.get().channel == "sms"

    def test_card_value_wins_over_the_hidden_field(self) -> None:
        # The hidden input comes first in the form, the clicked card last.
        response = self.client.post(
            reverse("kodmobi:login"),
            {"identifier": PHONE, "channel": ["", "whatsapp"]},
        )
        assert response.status_code == HTTPStatus.FOUND
        assert OTPSession.objects.get().channel == "whatsapp"

    def test_errors_are_shown(self) -> None:
        response = self.start("nonsense")
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert (
            "Enter a valid phone number or email address." in response.content.decode()
        )
        response = self.start(PHONE, channel="email")
        assert (
            "We can&#x27;t send a code through this channel."
            in response.content.decode()
        )
        response = self.client.post(reverse("kodmobi:login"), {})
        assert "This field is required." in response.content.decode()

    def test_kodmobi_down(self) -> None:
        self.kodmobi.faults.add(Fault(FaultKind.ERROR))
        from django.core.cache import cache

        cache.clear()
        response = self.start(PHONE)
        content = response.content.decode()
        assert "The code service is not answering right now." in content
        assert "kodmobi-card" not in content  # no channels to show

    def test_russian(self) -> None:
        response = self.client.get(reverse("kodmobi:login"), HTTP_ACCEPT_LANGUAGE="ru")
        content = response.content.decode()
        assert "Вход" in content and "Получить код" in content
        self.kodmobi.project.set_reachable(PHONE, ["sms"])
        self.client.post(
            reverse("kodmobi:login"),
            {"identifier": PHONE, "channel": "sms"},
            HTTP_ACCEPT_LANGUAGE="ru",
        )
        page = self.client.get(reverse("kodmobi:code"), HTTP_ACCEPT_LANGUAGE="ru")
        content = page.content.decode()
        assert "Код отправлен (SMS) на +7" in content
        assert "Код в сообщении от нашего бота в Telegram" in content
        assert "Открыть Telegram" in content
        assert "Почта" not in content  # a phone flow offers no email

    @override_settings(LANGUAGE_CODE="en")
    def test_sandbox_inbox_link(self) -> None:
        from django.conf import settings

        with override_settings(
            KODMOBI={
                **settings.KODMOBI,
                "SANDBOX_INBOX_URL": "http://127.0.0.1:8765/sandbox/",
            }
        ):
            content = self.client.get(reverse("kodmobi:login")).content.decode()
        assert 'href="http://127.0.0.1:8765/sandbox/"' in content


class CodePageTests(PageTestCase):
    def test_logs_in_and_goes_next(self) -> None:
        self.client.get(reverse("kodmobi:login") + "?next=/private/")
        self.client.post(
            reverse("kodmobi:login"), {"identifier": EMAIL, "next": "/private/"}
        )
        response = self.client.post(
            reverse("kodmobi:code"), {"code": self.kodmobi_code(EMAIL)}
        )
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"] == "/private/"
        assert b"Hello anna" in self.client.get("/").content
        assert FLOW_KEY not in self.client.session

    def test_unsafe_next_is_ignored(self) -> None:
        for unsafe in [
            "https://evil.example/",
            "//evil.example/",
            "javascript:alert(1)",
        ]:
            self.client.logout()
            self.client.post(
                reverse("kodmobi:login"), {"identifier": EMAIL, "next": unsafe}
            )
            response = self.client.post(
                reverse("kodmobi:code"), {"code": self.kodmobi_code(EMAIL)}
            )
            assert response["Location"] == "/", unsafe
            self.kodmobi.advance(181)

    def test_unsafe_next_is_not_echoed(self) -> None:
        response = self.client.get(
            reverse("kodmobi:login") + "?next=https://evil.example/"
        )
        assert 'name="next" value=""' in response.content.decode()
        response = self.client.get(reverse("kodmobi:login") + "?next=/orders/")
        assert 'name="next" value="/orders/"' in response.content.decode()

    def test_wrong_code_then_right(self) -> None:
        self.start(EMAIL)
        response = self.client.post(
            reverse("kodmobi:code"), {"code": self.wrong(EMAIL)}
        )
        assert response.status_code == HTTPStatus.BAD_REQUEST
        content = response.content.decode()
        assert "That code is not right." in content and "Attempts left: 4." in content
        assert 'aria-invalid="true"' in content
        response = self.client.post(
            reverse("kodmobi:code"), {"code": self.kodmobi_code(EMAIL)}
        )
        assert response.status_code == HTTPStatus.FOUND

    def test_locked(self) -> None:
        self.start(EMAIL)
        for _ in range(5):
            response = self.client.post(
                reverse("kodmobi:code"), {"code": self.wrong(EMAIL)}
            )
        content = response.content.decode()
        assert "Too many wrong codes." in content
        assert "This login attempt has ended." in content

    def test_expired(self) -> None:
        self.start(EMAIL)
        code = self.kodmobi_code(EMAIL)
        OTPSession.objects.update(expires_at="2000-01-01T00:00:00Z")
        content = self.client.post(
            reverse("kodmobi:code"), {"code": code}
        ).content.decode()
        assert "This code has expired." in content

    def test_unknown_account(self) -> None:
        self.start("stranger@example.com")
        response = self.client.post(
            reverse("kodmobi:code"), {"code": self.kodmobi_code("stranger@example.com")}
        )
        assert (
            "This account can&#x27;t sign in with a one-time code."
            in response.content.decode()
        )

    def test_without_a_flow(self) -> None:
        assert self.client.get(reverse("kodmobi:code"))["Location"] == reverse(
            "kodmobi:login"
        )
        assert self.client.post(reverse("kodmobi:code"), {"code": "1"})[
            "Location"
        ] == reverse("kodmobi:login")
        session = self.client.session
        session[FLOW_KEY] = {"id": "nope", "token": "nope"}
        session.save()
        assert self.client.get(reverse("kodmobi:code"))["Location"] == reverse(
            "kodmobi:login"
        )

    def test_a_login_by_pages_asks_kodmobi_three_times(self) -> None:
        self.client.get(reverse("kodmobi:login"))  # the project's list, cached
        before = dict(self.kodmobi.calls)
        self.start(EMAIL)
        self.client.get(reverse("kodmobi:code"))
        response = self.client.post(
            reverse("kodmobi:code"), {"code": self.kodmobi_code(EMAIL)}
        )
        assert response.status_code == HTTPStatus.FOUND
        asked = {op: n - before.get(op, 0) for op, n in self.kodmobi.calls.items()}
        assert {op: n for op, n in asked.items() if n} == {
            "create": 1,
            "check": 1,
            "verify": 1,
        }

    def test_the_code_page_asks_for_channels_again_after_a_while(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.kodmobi.project.set_reachable(PHONE, ["sms"])
            self.start(PHONE, channel="sms")
            self.client.post(reverse("kodmobi:code"), {"code": self.wrong(PHONE)})
            # The page after a wrong code shows the list the start brought...
            assert self.kodmobi.calls["channels"] == 0
            self.kodmobi.project.set_reachable(PHONE, ["sms", "telegram"])
            content = self.client.get(reverse("kodmobi:code")).content.decode()
            assert "Connect Telegram" in content
            # ...and later kod.mobi's word on it: Telegram was connected.
            clock.shift(settings.KODMOBI.get("SESSION_CHANNELS_CACHE_SECONDS", 20))
            content = self.client.get(reverse("kodmobi:code")).content.decode()
            assert self.kodmobi.calls["channels"] == 1
            assert "Connect Telegram" not in content
            assert 'value="telegram"' in content

    def test_back_from_connecting_the_page_asks_at_once(self) -> None:
        with time_machine.travel("2026-11-28 10:00Z", tick=False):
            self.kodmobi.project.set_reachable(PHONE, ["sms"])
            self.start(PHONE, channel="sms")
            content = self.client.get(reverse("kodmobi:code")).content.decode()
            assert "Connect Telegram" in content
            assert 'href="?channels=fresh"' in content
            self.kodmobi.project.connect(PHONE, "telegram")  # the bot opened
            # No clock shift: "Done?" asks kod.mobi now, not 20 s later.
            fresh = self.client.get(reverse("kodmobi:code"), {"channels": "fresh"})
            assert self.kodmobi.calls["channels"] == 1
            assert "Connect Telegram" not in fresh.content.decode()
            assert 'value="telegram"' in fresh.content.decode()

    def test_the_login_page_says_how_to_connect_a_channel(self) -> None:
        self.kodmobi.project.set_reachable(PHONE, ["sms"])
        response = self.client.post(
            reverse("kodmobi:login"), {"identifier": PHONE, "channel": "telegram"}
        )
        content = response.content.decode()
        assert "opened its bot" in content
        assert "Connect Telegram" in content
        assert "/sandbox/connect/telegram" in content
        # A channel with nothing to connect has no link to offer.
        self.kodmobi.project.set_reachable(PHONE, [])
        response = self.client.post(
            reverse("kodmobi:login"), {"identifier": PHONE, "channel": "sms"}
        )
        assert "Connect" not in response.content.decode()

    def test_the_list_kept_from_the_start_counts_down_on_our_clock(self) -> None:
        self.kodmobi.config.channel_timeout = 5  # shorter than the list is kept
        with time_machine.travel("2026-11-28 10:00Z", tick=False) as clock:
            self.start(PHONE, channel="sms")
            clock.shift(2)
            content = self.client.get(reverse("kodmobi:code")).content.decode()
            assert 'value="sms" class="kodmobi-card"' in content
            assert 'data-kodmobi-countdown="3"' in content
            # Its countdown over, SMS may send again, though the list kept
            # from the start had it counting down.
            clock.shift(4)
            content = self.client.get(reverse("kodmobi:code")).content.decode()
            assert 'value="sms" class="kodmobi-card"' in content
            assert 'data-kodmobi-countdown="0"' in content
            assert self.kodmobi.calls["channels"] == 0

    def test_inactive_channel_has_its_call_to_action(self) -> None:
        self.kodmobi.project.set_reachable(PHONE, ["sms", "whatsapp"])
        self.start(PHONE, channel="sms")
        content = self.client.get(reverse("kodmobi:code")).content.decode()
        assert "Connect Telegram" in content
        assert "/sandbox/connect/telegram" in content
        assert "Email" not in content  # a code for a phone cannot go by email
        assert 'data-kodmobi-countdown="60"' in content  # sms just sent
        assert 'data-kodmobi-countdown="0"' in content

    def test_csrf_is_enforced(self) -> None:
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        response = client.post(reverse("kodmobi:login"), {"identifier": EMAIL})
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert OTPSession.objects.count() == 0


class ResendAndRestartTests(PageTestCase):
    def test_resend_on_another_channel(self) -> None:
        self.start(PHONE, channel="telegram")
        response = self.client.post(
            reverse("kodmobi:resend"), {"channel": "whatsapp"}, follow=True
        )
        content = response.content.decode()
        assert "We sent the code again." in content
        assert "We sent a code to WhatsApp" in content
        assert OTPSession.objects.get().resends == 1

    def test_resend_too_soon(self) -> None:
        self.start(PHONE, channel="telegram")
        response = self.client.post(
            reverse("kodmobi:resend"), {"channel": "telegram"}, follow=True
        )
        content = response.content.decode()
        assert "Please wait before asking for another code." in content
        assert "Try again in" in content

    def test_every_page_passes_the_captcha_answer_on(self) -> None:
        token = self.kodmobi.config.challenge_token
        self.kodmobi.config.challenge_enabled = True
        blocked = self.start(PHONE, channel="telegram")
        assert "Please confirm you are not a robot" in blocked.content.decode()
        self.start(PHONE, channel="telegram", kodmobi_challenge_token=token)
        self.kodmobi.advance(61)
        OTPSession.objects.update(channel_cooldowns={})
        without = self.client.post(
            reverse("kodmobi:resend"), {"channel": "whatsapp"}, follow=True
        )
        assert "Please confirm you are not a robot" in without.content.decode()
        resent = self.client.post(
            reverse("kodmobi:resend"),
            {"channel": "whatsapp", "kodmobi_challenge_token": token},
            follow=True,
        )
        assert "We sent the code again." in resent.content.decode()
        code = self.kodmobi_code(PHONE)
        refused = self.client.post(reverse("kodmobi:code"), {"code": code})
        assert "Please confirm you are not a robot" in refused.content.decode()
        self.client.post(
            reverse("kodmobi:code"), {"code": code, "kodmobi_challenge_token": token}
        )
        assert self.kodmobi.calls["verify"] == 1

    def test_resend_without_a_flow(self) -> None:
        assert self.client.post(reverse("kodmobi:resend"), {"channel": "sms"})[
            "Location"
        ] == reverse("kodmobi:login")

    def test_restart_keeps_next(self) -> None:
        self.client.post(
            reverse("kodmobi:login"), {"identifier": EMAIL, "next": "/private/"}
        )
        response = self.client.post(reverse("kodmobi:restart"))
        assert response["Location"] == reverse("kodmobi:login") + "?next=%2Fprivate%2F"
        assert FLOW_KEY not in self.client.session
        assert self.client.post(reverse("kodmobi:restart"))["Location"] == reverse(
            "kodmobi:login"
        )


class PageRobustnessTests(PageTestCase):
    def test_forms_and_csrf_tokens_on_every_page(self) -> None:
        login = self.client.get(reverse("kodmobi:login")).content.decode()
        assert 'name="identifier"' in login and "csrfmiddlewaretoken" in login
        self.start(EMAIL)
        code = self.client.get(reverse("kodmobi:code")).content.decode()
        assert 'name="code"' in code and "csrfmiddlewaretoken" in code
        wrong = self.client.post(reverse("kodmobi:code"), {"code": self.wrong(EMAIL)})
        assert "csrfmiddlewaretoken" in wrong.content.decode()

    def test_the_code_page_survives_a_failed_channel_list(self) -> None:
        self.start(PHONE, channel="sms")
        cache.clear()  # the project's list was cached by the login page
        self.kodmobi.faults.add(Fault(FaultKind.ERROR, frozenset({"channels"})))
        page = self.client.get(reverse("kodmobi:code"))
        content = page.content.decode()
        assert page.status_code == HTTPStatus.OK and 'name="code"' in content
        assert "We sent a code to SMS," in content and "None" not in content

    @modify_settings(
        MIDDLEWARE={"remove": "django.contrib.messages.middleware.MessageMiddleware"}
    )
    def test_pages_work_without_the_messages_framework(self) -> None:
        self.start(PHONE, channel="telegram")
        response = self.client.post(reverse("kodmobi:resend"), {"channel": "whatsapp"})
        assert response.status_code == HTTPStatus.FOUND
        assert OTPSession.objects.get().resends == 1


class WidgetTests(PageTestCase):
    def test_widget_on_any_page(self) -> None:
        response = self.client.get("/widget/")
        content = response.content.decode()
        assert "<h1>Welcome</h1>" in content
        assert f'action="{reverse("kodmobi:login")}"' in content
        assert 'name="next" value="/widget/"' in content
        assert "csrfmiddlewaretoken" in content
        assert "Telegram" in content

    def test_widget_login_returns_to_the_page(self) -> None:
        self.client.get("/widget/")
        self.client.post(
            reverse("kodmobi:login"), {"identifier": EMAIL, "next": "/widget/"}
        )
        response = self.client.post(
            reverse("kodmobi:code"), {"code": self.kodmobi_code(EMAIL)}
        )
        assert response["Location"] == "/widget/"
        assert OTPSession.objects.get().status == Status.CONSUMED


def said(response: Any) -> list[str]:
    """The Django messages waiting for the page ``response`` ended on."""
    return [str(m) for m in messages.get_messages(response.wsgi_request)]


class AfterLoginTests(PageTestCase):
    """Where a login ends, and what a logged-in person sees."""

    def log_in(self, next_url: str | None = None) -> Any:
        data = {"identifier": EMAIL, **({"next": next_url} if next_url else {})}
        self.client.post(reverse("kodmobi:login"), data)
        return self.client.post(
            reverse("kodmobi:code"), {"code": self.kodmobi_code(EMAIL)}, follow=True
        )

    def test_a_login_page_is_never_where_a_login_ends(self) -> None:
        for login_page in [
            reverse("kodmobi:login"),
            reverse("kodmobi:login") + "?next=/orders/",
            reverse("kodmobi:code"),
        ]:
            self.client.logout()
            response = self.log_in(login_page)
            assert response.redirect_chain[-1][0] == "/", login_page
            self.kodmobi.advance(181)

    @override_settings(LOGIN_REDIRECT_URL="/widget/")
    def test_no_next_goes_to_login_redirect_url_with_a_message(self) -> None:
        response = self.log_in()
        assert response.redirect_chain[-1][0] == "/widget/"
        assert said(response) == ["You are logged in."]

    def test_the_widget_on_a_login_page_does_not_send_people_back_to_it(self) -> None:
        with override_settings(LOGIN_URL="/widget/"):
            content = self.client.get("/widget/").content.decode()
        assert 'name="next" value=""' in content

    def test_the_widget_greets_a_logged_in_person_and_logs_them_out(self) -> None:
        self.user.email = EMAIL
        self.user.save()
        self.client.force_login(self.user)
        content = self.client.get("/widget/").content.decode()
        assert "Logged in as a•••@example.com" in content
        assert 'name="identifier"' not in content
        assert f'action="{reverse("kodmobi:logout")}"' in content
        response = self.client.post(reverse("kodmobi:logout"), follow=True)
        assert response.redirect_chain[-1][0] == "/"
        assert said(response) == ["You are logged out."]
        assert "_auth_user_id" not in self.client.session
        assert self.client.get(reverse("kodmobi:logout")).status_code == 405

    def test_logout_goes_to_logout_redirect_url_else_home(self) -> None:
        for setting, expected in [("/widget/", "/widget/"), (None, "/")]:
            self.client.force_login(self.user)
            with override_settings(LOGOUT_REDIRECT_URL=setting):
                response = self.client.post(reverse("kodmobi:logout"))
            assert response["Location"] == expected

    def test_the_widget_brings_its_own_assets(self) -> None:
        content = self.client.get("/widget/").content.decode()
        assert "django_kodmobi/kodmobi.css" in content
        assert "django_kodmobi/kodmobi.js" in content
        page = self.client.get(reverse("kodmobi:login")).content.decode()
        assert page.count("django_kodmobi/kodmobi.js") == 1  # the page has them


class PageDetailTests(PageTestCase):
    """What the pages pass on and keep, each pinned by a test."""

    def test_the_clients_address_and_agent_reach_the_audit_and_limits(self) -> None:
        self.client.post(
            reverse("kodmobi:login"),
            {"identifier": EMAIL},
            REMOTE_ADDR="203.0.113.44",
            HTTP_USER_AGENT="Firefox/140",
        )
        row = OTPSession.objects.get()
        assert (row.client_ip, row.user_agent) == ("203.0.113.44", "Firefox/140")
        limits = dict.fromkeys(settings.RATE_LIMIT_NAMES, "")
        with override_settings(
            KODMOBI={
                **settings.KODMOBI,
                "RATE_LIMITS": {**limits, "start_per_ip": "1/m"},
            }
        ):
            self.client.post(
                reverse("kodmobi:login"),
                {"identifier": EMAIL},
                REMOTE_ADDR="203.0.113.45",
            )
            again = self.client.post(
                reverse("kodmobi:login"),
                {"identifier": EMAIL},
                REMOTE_ADDR="203.0.113.45",
            )
        assert "Too many attempts from here" in again.content.decode()

    def test_a_refused_channel_is_not_offered_as_the_pick_again(self) -> None:
        self.kodmobi.project.set_reachable(PHONE, ["whatsapp"])
        page = self.start(PHONE, channel="sms", next="/private/")
        assert page.status_code == 400
        assert page.context["selected_channel"] == ""
        assert page.context["next"] == "/private/"
        assert "We can&#x27;t send a code through this channel" in page.content.decode()
        other = self.start("not a phone", channel="whatsapp")
        assert other.context["selected_channel"] == "whatsapp"

    def test_a_dead_flow_is_dropped_from_the_session(self) -> None:
        self.start(EMAIL)
        OTPSession.objects.all().delete()
        assert self.client.get(reverse("kodmobi:code"))["Location"] == reverse(
            "kodmobi:login"
        )
        assert FLOW_KEY not in self.client.session

    def test_code_page_details(self) -> None:
        self.start(EMAIL)
        page = self.client.get(reverse("kodmobi:code"))
        content = page.content.decode()
        assert 'data-kodmobi-code-length="6"' in content
        assert page.context["channel_name"] == "Email"
        with override_settings(
            KODMOBI={
                **settings.KODMOBI,
                "SANDBOX_INBOX_URL": "http://127.0.0.1:8765/sandbox/",
            }
        ):
            page = self.client.get(reverse("kodmobi:code"))
        assert "http://127.0.0.1:8765/sandbox/" in page.content.decode()

    def test_our_own_cooldown_counts_where_kodmobi_says_nothing(self) -> None:
        self.start(PHONE, channel="sms")
        # kod.mobi's countdown is gone; this app's own is not.
        self.kodmobi.advance(61)
        future = OTPSession.objects.get().channel_cooldowns["sms"] + 30
        OTPSession.objects.update(channel_cooldowns={"sms": future})
        page = self.client.get(reverse("kodmobi:code")).content.decode()
        assert 'data-kodmobi-countdown="0"' in page
        assert 'data-kodmobi-countdown="60"' not in page
        card = next(c for c in page.split("<button") if 'value="sms"' in c)
        assert 'data-kodmobi-countdown="0"' not in card


class DisplayContactTests(TestCase):
    @override_settings(KODMOBI={**settings.KODMOBI, "USER_PHONE_FIELD": "username"})
    def test_a_phone_else_an_email_else_the_username(self) -> None:
        from django_kodmobi.users import display_contact

        by_phone = User(username="+79991234567", email=EMAIL)
        assert display_contact(by_phone) == "+7\u00a0•••\u00a0•••\u00a045\u00a067"
        # A username that is a name, not a phone: the email is shown.
        assert display_contact(User(username="anna", email=EMAIL)) == "a•••@example.com"
        assert display_contact(User(username="anna")) == "anna"


class HowLongTests(KodMobiTestMixin, TestCase):
    """A page that refuses for a while says for how long."""

    @override_settings(KODMOBI={**settings.KODMOBI, "FAILURE_COOLDOWNS": ((1, 900),)})
    def test_a_paused_phone_says_for_how_long(self) -> None:
        from django_kodmobi import guards

        with time_machine.travel("2026-11-28 10:00Z", tick=False):
            guards.record_failure("+79991234567", "127.0.0.1")
            response = self.client.post(
                reverse("kodmobi:login"), {"identifier": "+79991234567"}
            )
            with translation.override("ru"):
                russian = self.client.post(
                    reverse("kodmobi:login"),
                    {"identifier": "+79991234567"},
                    HTTP_ACCEPT_LANGUAGE="ru",
                )
        assert response.status_code == 429
        assert response["Retry-After"] == "900"
        assert "Try again in 15\xa0minutes." in response.content.decode()
        assert "через 15\xa0минут" in russian.content.decode()

    def test_out_of_balance_says_we_cannot_send_now(self) -> None:
        self.kodmobi.config.balance_empty = True
        response = self.client.post(
            reverse("kodmobi:login"), {"identifier": "a@b.example"}
        )
        assert response.status_code == 503
        text = response.content.decode()
        assert "We can&#x27;t send codes right now" in text
        assert "minute" not in text.lower()
