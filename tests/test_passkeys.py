"""Passkeys through the API: created after a code, then a login with no
message; each rule refused on its own, and which side refused counted."""

from __future__ import annotations

import threading
from http import HTTPStatus
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core import checks
from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_kodmobi import devices, users
from django_kodmobi.models import (
    Passkey,
    PasskeyChallenge,
    PasskeyEvent,
    PasskeyEventKind,
)
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import limits, step_up
from .test_api import url

pytest.importorskip("webauthn")

from django_kodmobi.soft_passkey import SoftPasskey  # noqa: E402

User = get_user_model()
EMAIL = "anna@example.com"
ORIGIN = "http://localhost"
PASSKEYS = {
    "PASSKEYS": True,
    "PASSKEY_RP_ID": "localhost",
    "PASSKEY_ORIGINS": (ORIGIN,),
}


def passkey_url(passkey_id: str) -> str:
    return reverse("kodmobi_api:passkey", kwargs={"passkey_id": passkey_id})


def passkey_settings(**extra: Any) -> override_settings:
    return override_settings(KODMOBI={**settings.KODMOBI, **PASSKEYS, **extra})


class PasskeyApi:
    """The calls an SPA makes, with one software authenticator."""

    def __init__(self, client: APIClient) -> None:
        self.client = client

    def post(self, name: str, body: Any = None) -> Any:
        return self.client.post(url(name), body, format="json")

    def create(self, passkey: SoftPasskey) -> Any:
        options = self.post("passkey_register_options").json()
        return self.post("passkey_register", {"credential": passkey.create(options)})

    def assertion(self, passkey: SoftPasskey) -> dict[str, Any]:
        return passkey.get(self.post("passkey_login_options").json())

    def log_in(self, passkey: SoftPasskey) -> Any:
        return self.post("passkey_login", {"credential": self.assertion(passkey)})


@passkey_settings()
class PasskeyTests(KodMobiTestMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.anna = User.objects.create_user("anna", EMAIL)
        self.api = PasskeyApi(APIClient())

    def log_in_by_code(self, client: APIClient | None = None) -> None:
        api = PasskeyApi(client) if client else self.api
        flow = api.post("start", {"identifier": EMAIL}).json()["flow"]
        reply = api.post("verify", {"flow": flow, "code": self.kodmobi_code(EMAIL)})
        assert reply.status_code == HTTPStatus.OK, reply.json()

    def anna_with_a_passkey(self) -> SoftPasskey:
        self.log_in_by_code()
        passkey = SoftPasskey(origin=ORIGIN)
        assert self.api.create(passkey).status_code == HTTPStatus.CREATED
        self.api.client.logout()
        return passkey

    def refusals(self) -> list[str]:
        return list(
            PasskeyEvent.objects.filter(
                kind__in=[
                    PasskeyEventKind.LOGIN_REFUSED,
                    PasskeyEventKind.REGISTRATION_REFUSED,
                ]
            )
            .order_by("id")
            .values_list("detail", flat=True)
        )

    def test_after_one_code_the_next_logins_send_nothing(self) -> None:
        passkey = self.anna_with_a_passkey()
        calls = sum(self.kodmobi.calls.values())
        sent = len(self.kodmobi_outbox())
        logged_in: list[Any] = []

        def count(**kwargs: Any) -> None:
            logged_in.append(kwargs["user"])

        user_logged_in.connect(count)
        try:
            for _ in range(3):
                reply = self.api.log_in(passkey)
                assert reply.status_code == HTTPStatus.OK, reply.json()
                assert reply.json()["user"]["username"] == "anna"
                assert self.api.client.get(url("session")).json()["authenticated"]
                self.api.client.logout()
        finally:
            user_logged_in.disconnect(count)
        assert logged_in == [self.anna] * 3
        assert sum(self.kodmobi.calls.values()) == calls  # kod.mobi not asked
        assert len(self.kodmobi_outbox()) == sent == 1
        saved = Passkey.objects.get()
        assert (saved.user, saved.sign_count) == (self.anna, 3)
        kinds = list(
            PasskeyEvent.objects.order_by("at", "id").values_list("kind", flat=True)
        )
        assert kinds == ["registered"] + ["logged_in"] * 3

    def test_a_passkey_login_is_a_step_up(self) -> None:
        passkey = self.anna_with_a_passkey()
        self.api.log_in(passkey)
        mine = self.api.client.get(url("passkeys")).json()
        reply = self.api.client.delete(passkey_url(mine[0]["id"]))
        assert reply.status_code == HTTPStatus.NO_CONTENT

    def test_a_replayed_assertion_is_refused(self) -> None:
        passkey = self.anna_with_a_passkey()
        answer = self.api.assertion(passkey)
        assert self.api.post("passkey_login", {"credential": answer}).status_code == 200
        self.api.client.logout()
        replay = self.api.post("passkey_login", {"credential": answer})
        assert replay.status_code == HTTPStatus.BAD_REQUEST
        assert replay.json()["code"] == "passkey_refused"
        assert self.refusals() == ["challenge"]

    def test_a_sign_count_that_goes_back_is_refused(self) -> None:
        passkey = self.anna_with_a_passkey()
        self.api.log_in(passkey)
        self.api.client.logout()
        passkey.sign_count = 0  # a cloned authenticator
        assert self.api.log_in(passkey).status_code == HTTPStatus.BAD_REQUEST
        assert self.refusals() == ["sign_count"]

    def test_one_assertion_raced_logs_in_once(self) -> None:
        """The sign count written is the one checked: a second use of the
        same count (its challenge aside) is refused."""
        passkey = self.anna_with_a_passkey()
        first = self.api.assertion(passkey)
        passkey.sign_count -= 1  # the same count, on a new challenge
        second = self.api.assertion(passkey)
        assert self.api.post("passkey_login", {"credential": first}).status_code == 200
        self.api.client.logout()
        assert self.api.post("passkey_login", {"credential": second}).status_code == 400
        assert self.refusals() == ["sign_count"]

    def test_two_answers_checked_against_one_count_log_in_once(self) -> None:
        """A cloned authenticator's two answers, each on its own challenge,
        both checked before either is written: the second write finds the
        count moved and is refused."""
        passkey = self.anna_with_a_passkey()
        first = self.api.assertion(passkey)
        passkey.sign_count -= 1
        second = self.api.assertion(passkey)
        real = users.can_log_in
        inner: list[int] = []

        def racing(user: Any) -> bool:
            if not inner:
                inner.append(0)  # the other answer arrives now
                reply = PasskeyApi(APIClient()).post(
                    "passkey_login", {"credential": second}
                )
                inner[0] = reply.status_code
            return real(user)

        with mock.patch.object(users, "can_log_in", racing):
            outer = self.api.post("passkey_login", {"credential": first})
        assert (inner, outer.status_code) == ([200], 400)
        assert self.refusals() == ["replayed"]

    def test_a_wrong_origin_or_rp_id_is_refused(self) -> None:
        passkey = self.anna_with_a_passkey()
        passkey.origin = "http://localhost.evil.example"
        assert self.api.log_in(passkey).status_code == HTTPStatus.BAD_REQUEST
        passkey.origin, passkey.rp_id = ORIGIN, "evil.example"
        assert self.api.log_in(passkey).status_code == HTTPStatus.BAD_REQUEST
        assert self.refusals() == ["wrong_origin", "wrong_rp_id"]

    def test_creation_for_another_origin_is_refused(self) -> None:
        self.log_in_by_code()
        reply = self.api.create(SoftPasskey(origin="https://phish.example"))
        assert reply.status_code == HTTPStatus.BAD_REQUEST
        assert Passkey.objects.count() == 0
        assert self.refusals() == ["wrong_origin"]

    def test_user_verification_is_enforced_when_required(self) -> None:
        passkey = self.anna_with_a_passkey()
        passkey.user_verified = False
        assert self.api.log_in(passkey).status_code == HTTPStatus.BAD_REQUEST
        assert self.refusals() == ["user_not_verified"]
        with passkey_settings(PASSKEY_USER_VERIFICATION="preferred"):
            assert self.api.log_in(passkey).status_code == HTTPStatus.OK

    def test_a_passkey_of_anna_cannot_log_in_as_boris(self) -> None:
        passkey = self.anna_with_a_passkey()
        boris = User.objects.create_user("boris", "boris@example.com")
        from django_kodmobi.services.passkeys import user_handle

        passkey.user_handle = user_handle(boris)  # claims to be Boris's
        assert self.api.log_in(passkey).status_code == HTTPStatus.BAD_REQUEST
        assert self.refusals() == ["wrong_user"]
        # And the same credential cannot be saved for Boris as well.
        boris_client = APIClient()
        boris_client.force_authenticate(boris)
        boris_api = PasskeyApi(boris_client)
        reply = boris_api.create(passkey)
        assert reply.status_code == HTTPStatus.BAD_REQUEST
        assert Passkey.objects.get().user == self.anna
        assert self.refusals()[-1] == "already_registered"

    def test_an_unknown_or_removed_passkey_is_refused_and_the_code_still_works(
        self,
    ) -> None:
        passkey = self.anna_with_a_passkey()
        Passkey.objects.all().delete()
        failed: list[Any] = []

        def note(**kwargs: Any) -> None:
            failed.append(kwargs)

        user_login_failed.connect(note)
        try:
            assert self.api.log_in(passkey).status_code == HTTPStatus.BAD_REQUEST
        finally:
            user_login_failed.disconnect(note)
        assert failed[0]["credentials"] == {"kodmobi_passkey": "********"}
        assert self.refusals() == ["unknown_passkey"]
        self.log_in_by_code()  # the way back

    def test_inactive_and_staff_are_refused_as_by_code(self) -> None:
        passkey = self.anna_with_a_passkey()
        User.objects.filter(pk=self.anna.pk).update(is_staff=True)
        assert self.api.log_in(passkey).status_code == HTTPStatus.BAD_REQUEST
        User.objects.filter(pk=self.anna.pk).update(is_staff=False, is_active=False)
        assert self.api.log_in(passkey).status_code == HTTPStatus.BAD_REQUEST
        assert self.refusals() == ["staff_excluded", "inactive"]

    def test_a_challenge_expires(self) -> None:
        passkey = self.anna_with_a_passkey()
        with time_machine.travel("2026-12-07 10:00Z", tick=False) as clock:
            answer = self.api.assertion(passkey)
            clock.shift(301)
            reply = self.api.post("passkey_login", {"credential": answer})
        assert reply.status_code == HTTPStatus.BAD_REQUEST
        assert self.refusals() == ["challenge"]

    def test_a_registration_challenge_is_the_users_own(self) -> None:
        self.log_in_by_code()
        options = self.api.post("passkey_register_options").json()
        boris = User.objects.create_user("boris", "boris@example.com")
        boris_client = APIClient()
        boris_client.force_authenticate(boris)
        answer = SoftPasskey(origin=ORIGIN).create(options)
        reply = PasskeyApi(boris_client).post(
            "passkey_register", {"credential": answer}
        )
        assert reply.status_code == HTTPStatus.BAD_REQUEST
        assert self.refusals() == ["challenge"]

    def test_creating_needs_a_login_and_removing_a_step_up(self) -> None:
        assert self.api.post("passkey_register_options").status_code in (401, 403)
        passkey = self.anna_with_a_passkey()
        client = APIClient()
        client.force_login(self.anna)
        mine = client.get(url("passkeys")).json()
        assert [p["name"] for p in mine] == ["Passkey"]
        gone = client.delete(passkey_url(mine[0]["id"]))
        assert gone.json()["code"] == "step_up_required"
        step_up(client, self.anna)
        gone = client.delete(passkey_url(mine[0]["id"]))
        assert gone.status_code == HTTPStatus.NO_CONTENT
        again = client.delete(passkey_url(mine[0]["id"]))
        assert again.status_code == HTTPStatus.NOT_FOUND
        assert PasskeyEvent.objects.filter(kind="removed").count() == 1
        assert self.api.log_in(passkey).status_code == HTTPStatus.BAD_REQUEST

    def test_ceremonies_are_rate_limited_per_address(self) -> None:
        with limits(passkey_per_ip="2/m"):
            assert self.api.post("passkey_login_options").status_code == 200
            assert self.api.post("passkey_login_options").status_code == 200
            reply = self.api.post("passkey_login_options")
        assert reply.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert PasskeyChallenge.objects.count() == 2

    def test_malformed_answers_are_refused_not_500(self) -> None:
        for credential in ({}, {"response": {"clientDataJSON": "!!"}}, {"id": 5}):
            reply = self.api.post("passkey_login", {"credential": credential})
            assert reply.status_code == HTTPStatus.BAD_REQUEST
        assert self.api.post("passkey_login", {"credential": "x"}).json()["code"] == (
            "invalid"
        )
        assert self.refusals() == ["malformed"] * 3

    def test_token_mode_returns_tokens_and_no_cookie(self) -> None:
        passkey = self.anna_with_a_passkey()
        with passkey_settings(API_LOGIN="token"):
            reply = self.api.log_in(passkey)
        assert reply.status_code == HTTPStatus.OK
        assert reply.json()["token"]
        assert settings.SESSION_COOKIE_NAME not in reply.cookies


class PasskeysOffTests(KodMobiTestMixin, TestCase):
    def test_every_endpoint_is_not_found_while_off(self) -> None:
        client = APIClient()
        client.force_authenticate(User.objects.create_user("anna", EMAIL))
        for name in ("passkey_login_options", "passkey_register_options"):
            reply = client.post(url(name), format="json")
            assert (reply.status_code, reply.json()["code"]) == (404, "not_found")
        assert client.get(url("passkeys")).status_code == HTTPStatus.NOT_FOUND


class PasskeyCheckTests(TestCase):
    def errors(self, **extra: Any) -> list[str]:
        with passkey_settings(**extra):
            found = checks.run_checks(tags=[checks.Tags.security])
        return [m.msg for m in found if m.id == "kodmobi.E015"]

    def test_a_good_relying_party_passes(self) -> None:
        assert self.errors() == []
        assert (
            self.errors(
                PASSKEY_ORIGINS=("https://www.example.com",),
                PASSKEY_RP_ID="example.com",
            )
            == []
        )

    def test_bad_rp_ids_and_origins_fail(self) -> None:
        for rp_id in ("", "https://example.com", "Example.com", "127.0.0.1", "ex:1"):
            assert self.errors(PASSKEY_RP_ID=rp_id), rp_id
        assert self.errors(PASSKEY_ORIGINS=())
        for origin in (
            "http://example.com",  # not https
            "https://example.org",  # another site
            "https://example.com/login",  # a path
            "example.com",
        ):
            found = self.errors(PASSKEY_RP_ID="example.com", PASSKEY_ORIGINS=(origin,))
            assert len(found) == 1, origin

    def test_user_verification_policy_is_checked(self) -> None:
        with passkey_settings(PASSKEY_USER_VERIFICATION="sometimes"):
            found = checks.run_checks(tags=[checks.Tags.security])
        assert any(
            m.id == "kodmobi.E003" and "PASSKEY_USER_VERIFICATION" in m.msg
            for m in found
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency")
@passkey_settings()
class PasskeyRaceTests(KodMobiTestMixin, TransactionTestCase):
    def test_one_assertion_sent_by_eight_callers_logs_in_once(self) -> None:
        User.objects.create_user("anna", EMAIL)
        api = PasskeyApi(APIClient())
        flow = api.post("start", {"identifier": EMAIL}).json()["flow"]
        api.post("verify", {"flow": flow, "code": self.kodmobi_code(EMAIL)})
        passkey = SoftPasskey(origin=ORIGIN)
        api.create(passkey)
        answer = api.assertion(passkey)
        barrier = threading.Barrier(8)
        codes: list[int] = []

        def call() -> None:
            try:
                barrier.wait()
                reply = PasskeyApi(APIClient()).post(
                    "passkey_login", {"credential": answer}
                )
                codes.append(reply.status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(codes) == [200] + [400] * 7
        assert PasskeyEvent.objects.filter(kind="logged_in").count() == 1


@passkey_settings()
class PasskeyAuditTests(KodMobiTestMixin, TestCase):
    def test_the_charts_count_the_messages_saved(self) -> None:
        anna = User.objects.create_user("anna", EMAIL)
        api = PasskeyApi(APIClient())
        api.client.force_login(anna)
        passkey = SoftPasskey(origin=ORIGIN)
        api.create(passkey)
        api.client.logout()
        for _ in range(2):
            assert api.log_in(passkey).status_code == HTTPStatus.OK
            api.client.logout()
        admin = User.objects.create_superuser("root", "root@example.com", "pw")
        self.client.force_login(admin)
        page = self.client.get(reverse("admin:kodmobi_otpsession_charts"))
        assert "Passkeys saved 2 messages." in page.content.decode()
        events = self.client.get(reverse("admin:kodmobi_passkeyevent_changelist"))
        assert events.status_code == HTTPStatus.OK
        assert (
            self.client.get(
                reverse("admin:kodmobi_passkey_change", args=[Passkey.objects.get().pk])
            ).status_code
            == HTTPStatus.OK
        )


@passkey_settings()
class PasskeyPageTests(KodMobiTestMixin, TestCase):
    """The pages around the ceremonies (Chromium runs the ceremonies
    themselves: tests/browser/test_passkeys.py)."""

    def setUp(self) -> None:
        super().setUp()
        self.anna = User.objects.create_user("anna", EMAIL)

    def log_in_by_code(self) -> Any:
        self.client.post(reverse("kodmobi:login"), {"identifier": EMAIL})
        return self.client.post(
            reverse("kodmobi:code"), {"code": self.kodmobi_code(EMAIL)}
        )

    def post_json(self, name: str, body: Any, **query: str) -> Any:
        path = reverse(f"kodmobi:{name}")
        if query:
            path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        return self.client.post(path, body, content_type="application/json")

    def test_a_code_login_offers_a_passkey_then_goes_on(self) -> None:
        done = self.log_in_by_code()
        assert done["Location"] == f"{reverse('kodmobi:passkey_offer')}?next=%2F"
        page = self.client.get(done["Location"]).content.decode()
        # Without JavaScript the page says so and "Not now" goes on.
        assert "This browser cannot create a passkey here" in page
        assert "data-kodmobi-passkey-create hidden" in page

    def test_not_now_is_remembered_for_thirty_days(self) -> None:
        self.client.force_login(self.anna)
        later = self.client.get(
            reverse("kodmobi:passkey_offer"), {"next": "/", "later": "1"}
        )
        assert later["Location"] == "/"
        cookie = later.cookies["kodmobi_passkey_later"]
        assert (cookie["max-age"], cookie["httponly"]) == (30 * 24 * 3600, True)
        self.client.logout()
        self.client.cookies["kodmobi_passkey_later"] = "1"
        assert self.log_in_by_code()["Location"] == "/"

    def test_with_passkeys_off_nothing_is_offered(self) -> None:
        with override_settings(KODMOBI={**settings.KODMOBI, "PASSKEYS": False}):
            assert self.log_in_by_code()["Location"] == "/"
            login = self.client.get(reverse("kodmobi:login")).content.decode()
        assert "webauthn" not in login
        assert (
            'autocomplete="username webauthn"'
            in self.client.get(reverse("kodmobi:login")).content.decode()
        )

    def test_a_passkey_logs_in_by_the_page_and_says_where_to_go(self) -> None:
        self.client.force_login(self.anna)
        passkey = SoftPasskey(origin=ORIGIN)
        options = self.post_json("passkey_register_options", {}).json()
        made = self.post_json(
            "passkey_register", {"credential": passkey.create(options)}, next="/x/"
        )
        assert made.json() == {"redirect": "/x/"}
        self.client.logout()
        options = self.post_json("passkey_login_options", {}).json()
        done = self.post_json(
            "passkey_login", {"credential": passkey.get(options)}, next="/y/"
        )
        assert done.json() == {"redirect": "/y/"}
        assert self.client.get(reverse("kodmobi:contacts")).status_code == 200
        # The browser proved the account: should it ever fall back to a
        # code, it keeps its own budgets for the account's email (B9).
        token = self.client.cookies[devices.COOKIE_NAME].value
        assert devices.device_key(token, EMAIL)

    def test_bad_bodies_and_limits_answer_json_not_500(self) -> None:
        for body in ("not json", {"credential": "x"}, {}):
            reply = self.post_json("passkey_login", body)
            assert (reply.status_code, reply.json()["code"]) == (
                400,
                "passkey_refused",
            )
        with limits(passkey_per_ip="1/m"):
            self.post_json("passkey_login_options", {})
            reply = self.post_json("passkey_login_options", {})
        assert reply.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert int(reply["Retry-After"]) > 0

    def test_a_cache_outage_is_a_503_not_a_500(self) -> None:
        pytest.importorskip("redis")
        dead = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
            }
        }
        rates = {**settings.KODMOBI["RATE_LIMITS"], "passkey_per_ip": "30/m"}
        kodmobi = {**settings.KODMOBI, **PASSKEYS, "RATE_LIMITS": rates}
        with override_settings(CACHES=dead, KODMOBI=kodmobi):
            reply = self.post_json("passkey_login_options", {})
        assert (reply.status_code, reply.json()["code"]) == (503, "unavailable")
        assert reply["Retry-After"]

    def test_removing_on_the_page_needs_a_step_up(self) -> None:
        passkey = Passkey.objects.create(
            user=self.anna, credential_id="abc", public_key=b"k", name="Chrome"
        )
        self.client.force_login(self.anna)
        mine = self.client.get(reverse("kodmobi:contacts")).content.decode()
        assert "Chrome" in mine
        remove = reverse("kodmobi:passkey_remove", args=[passkey.pk])
        asked = self.client.post(remove)
        assert asked["Location"].startswith(reverse("kodmobi:step_up"))
        step_up(self.client, self.anna)
        assert self.client.post(remove)["Location"] == reverse("kodmobi:contacts")
        assert not Passkey.objects.exists()
