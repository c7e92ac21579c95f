"""A login through the REST API against django-allauth's login by code:
statements and commits per login, as ``make bench`` counts them.

Runs with ``--ds=benchmarks.settings`` where allauth is installed (the
``allauth`` tox env and ``.ci/run``): the benchmark's own configuration,
allauth's headless API beside the app's. Skipped elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, TransactionTestCase
from django.utils import timezone

from django_kodmobi.models import Contact
from django_kodmobi.testing import KodMobiTestMixin

from .helpers import Work, database_work

pytest.importorskip("allauth")
pytestmark = pytest.mark.skipif(
    not apps.is_installed("allauth.headless"), reason="needs benchmarks.settings"
)


class TestStatementsAgainstAllauth(KodMobiTestMixin, TransactionTestCase):
    """Two returning users, each with a verified address both apps know;
    no test transaction, so that every BEGIN and COMMIT is seen."""

    def setUp(self) -> None:
        from allauth.account.models import EmailAddress

        super().setUp()
        for email in ("anna@example.com", "boris@example.com"):
            user = get_user_model().objects.create_user(email, email)
            Contact.objects.create(
                user=user, kind="email", value=email, verified_at=timezone.now()
            )
            EmailAddress.objects.create(
                user=user, email=email, verified=True, primary=True
            )

    def post(self, client: Client, path: str, body: dict[str, Any]) -> Any:
        return client.post(path, body, content_type="application/json")

    def api_login(self, email: str) -> Work:
        client = Client()
        with database_work() as work:
            started = self.post(client, "/api/auth/start/", {"identifier": email})
            code = self.kodmobi_code(email)
            flow = started.json()["flow"]
            reply = self.post(client, "/api/auth/verify/", {"flow": flow, "code": code})
        assert reply.status_code == 200, reply.content
        return work

    def allauth_login(self, email: str) -> Work:
        from benchmarks.allauth_adapter import CodeKeepingAdapter

        client = Client()
        prefix = "/_allauth/browser/v1/auth/code/"
        with database_work() as work:
            requested = self.post(client, f"{prefix}request", {"email": email})
            code = CodeKeepingAdapter.last_code
            reply = self.post(client, f"{prefix}confirm", {"code": code})
        assert requested.status_code == 401, requested.content  # a code is pending
        assert reply.status_code == 200, reply.content
        return work

    def test_the_api_runs_no_more_statements_than_allauth(self) -> None:
        ours = self.api_login("anna@example.com")
        theirs = self.allauth_login("boris@example.com")
        # Every statement the database runs, the session engine's included:
        # allauth keeps its pending login in the Django session, so much of
        # its own work is there. Ours: the start 4 (the row before kod.mobi
        # is called, unless a failure streak pauses the client; its kod.mobi
        # session, the row's update and the events), the verify 9 (load the
        # flow with its account; reserve the attempt, 2; consume and audit,
        # 2; then login(): the new session key, 2, last_login, and the
        # session saved at the end). On PostgreSQL the reply's writes, the
        # reservation and the consume with its audit are one statement each.
        expected = 9 if connection.vendor == "postgresql" else 13
        assert (ours.statements, ours.commits) == (expected, 5), ours.sql
        assert ours.statements <= theirs.statements, theirs.sql
        assert ours.commits <= theirs.commits, theirs.sql
        # One savepoint, the session engine's own: login() creates the new
        # session inside the commit that consumes the flow.
        assert ours.savepoints == 1
