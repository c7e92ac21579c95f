"""A project with ``ATOMIC_REQUESTS``: the views still commit each step on
their own, with no transaction open while kod.mobi is called."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import TransactionTestCase
from django.urls import reverse
from rest_framework.test import APIClient

from django_kodmobi import signals
from django_kodmobi.models import OTPEvent, OTPSession
from django_kodmobi.sandbox import SandboxRequest, SandboxResponse
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import api_login

EMAIL = "anna@example.com"

#: The views whose steps commit on their own, by URL name.
OWN_COMMITS = {
    "kodmobi": {
        "login",
        "code",
        "resend",
        "step_up",
        "contacts",
        "contact_code",
        "contact_action",
        "passkey_register_options",
        "passkey_register",
        "passkey_login_options",
        "passkey_login",
        "passkey_remove",
    },
    "kodmobi_api": {
        "start",
        "resend",
        "verify",
        "complete",
        "channels",
        "status",
        "step_up",
        "step_up_verify",
        "contacts",
        "contact_verify",
        "contact",
        "passkeys",
        "passkey_register_options",
        "passkey_register",
        "passkey_login_options",
        "passkey_login",
        "passkey",
    },
}


def test_the_views_that_write_make_their_own_commits() -> None:
    from django_kodmobi import urls
    from django_kodmobi.api import urls as api_urls

    for module in (urls, api_urls):
        for pattern in module.urlpatterns:
            own_commits: set[str] = getattr(
                pattern.callback, "_non_atomic_requests", set()
            )
            expected = pattern.name in OWN_COMMITS[module.app_name]
            assert ("default" in own_commits) is expected, pattern.name


class TestAtomicRequests(KodMobiTestMixin, TransactionTestCase):
    def setUp(self) -> None:
        super().setUp()
        get_user_model().objects.create_user("anna", EMAIL)
        #: Each kod.mobi call, and whether a transaction was open during it.
        self.calls: list[tuple[str, bool]] = []
        handle = self.kodmobi.handle

        def watched(request: SandboxRequest) -> SandboxResponse:
            self.calls.append((request.path, connection.in_atomic_block))
            return handle(request)

        for patch in (
            mock.patch.object(self.kodmobi, "handle", watched),
            mock.patch.dict(connections.settings["default"], ATOMIC_REQUESTS=True),
        ):
            patch.start()
            self.addCleanup(patch.stop)

    def assert_no_transaction_during_calls(self, count: int) -> None:
        assert len(self.calls) == count, self.calls
        assert not any(in_transaction for _path, in_transaction in self.calls)

    def test_a_login_by_pages(self) -> None:
        self.client.post(reverse("kodmobi:login"), {"identifier": EMAIL})
        code = self.kodmobi_code(EMAIL)
        self.client.post(reverse("kodmobi:code"), {"code": code})
        assert self.client.session["_auth_user_id"]
        self.assert_no_transaction_during_calls(3)

    def test_a_login_through_the_api(self) -> None:
        api_login(APIClient(), EMAIL, self.kodmobi_code)
        self.assert_no_transaction_during_calls(3)

    def test_a_crash_after_the_send_keeps_what_was_committed(self) -> None:
        def crash(**kwargs: Any) -> None:
            raise RuntimeError("a receiver of the project fails")

        signals.code_sent.connect(crash)
        self.addCleanup(signals.code_sent.disconnect, crash)
        with pytest.raises(RuntimeError):
            self.client.post(reverse("kodmobi:login"), {"identifier": EMAIL})
        # The request's transaction would have undone the row and its audit:
        # a code went out that nothing here would remember.
        session = OTPSession.objects.get()
        assert (session.status, session.channel) == ("sent", "email")
        assert list(OTPEvent.objects.values_list("kind", flat=True)) == [
            "created",
            "sent",
        ]
