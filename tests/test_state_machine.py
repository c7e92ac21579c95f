"""A Hypothesis state machine over the whole flow, through the REST API.

Hypothesis drives random sequences of starts, resends, right and wrong
codes, browser-SDK completions, clock moves and kod.mobi faults, and checks
after every step that:

- nobody logs in without the right code (or a real verify token) for that
  very flow, in that very step;
- no kod.mobi session is checked more than ``MAX_ATTEMPTS`` times;
- no request gets a 500.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

import time_machine
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.test import TestCase, override_settings
from django.urls import reverse
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from rest_framework.test import APIClient

from django_kodmobi.conf import settings as kodmobi_settings
from django_kodmobi.sandbox import Fault, FaultKind
from django_kodmobi.testing import fresh_sandbox

from .helpers import other_code

IDENTIFIERS = ["anna@example.com", "+79991234567"]
CHANNELS = ["telegram", "whatsapp", "sms", "email"]
FAULT_KINDS = [FaultKind.ERROR, FaultKind.MALFORMED, FaultKind.DROP]
OPERATIONS = ["create", "send", "check", "verify", "channels"]


class FlowMachine(RuleBasedStateMachine):
    flows = Bundle("flows")

    def __init__(self) -> None:
        super().__init__()
        cache.clear()
        self.clock = time_machine.travel(
            datetime(2026, 11, 28, 10, tzinfo=timezone.utc), tick=False
        )
        self.traveller = self.clock.start()
        self.kodmobi = fresh_sandbox()
        # kod.mobi's own blocks would hide the app's budget: the app alone
        # must hold it.
        self.kodmobi.config.max_wrong_codes = 1000
        self.kodmobi.config.destination_max_wrong_codes = 1000
        self.api = APIClient()
        self.checks: Counter[str] = Counter()
        check = self.kodmobi.project.check

        def counting_check(body: dict[str, Any]) -> dict[str, Any]:
            self.checks[str(body.get("session_id"))] += 1
            return check(body)

        self.kodmobi.project.check = counting_check  # type: ignore[method-assign]
        self.logins: list[Any] = []
        user_logged_in.connect(self.on_login, weak=False)
        self.may_log_in = False

    def teardown(self) -> None:
        user_logged_in.disconnect(self.on_login)
        self.clock.stop()

    def on_login(self, **kwargs: Any) -> None:
        assert self.may_log_in, "a login without the right code"
        self.logins.append(kwargs["user"])

    def post(self, name: str, body: dict[str, Any]) -> Any:
        reply = self.api.post(reverse(f"kodmobi_api:{name}"), body, format="json")
        assert reply.status_code != 500, reply.content
        assert reply.status_code < 500 or reply.json()["code"] == "kodmobi_unavailable"
        return reply

    # -- rules -------------------------------------------------------------------

    @rule(
        target=flows,
        identifier=st.sampled_from(IDENTIFIERS),
        channel=st.none() | st.sampled_from(CHANNELS),
        send=st.booleans(),
    )
    def start(self, identifier: str, channel: str | None, send: bool) -> Any:
        body: dict[str, Any] = {"identifier": identifier, "send": send}
        if channel:
            body["channel"] = channel
        reply = self.post("start", body)
        if reply.status_code != 201:
            return None
        data = reply.json()
        return (data["flow"], identifier, data.get("kodmobi_session_id", ""))

    @rule(flow=flows, channel=st.sampled_from(CHANNELS))
    def resend(self, flow: Any, channel: str) -> None:
        if flow:
            self.post("resend", {"flow": flow[0], "channel": channel})

    @rule(flow=flows, right=st.booleans(), times=st.integers(min_value=1, max_value=4))
    def verify(self, flow: Any, right: bool, times: int) -> None:
        """Submit the right code, or a wrong one, ``times`` times in a row."""
        if not flow:
            return
        live = self.kodmobi.project.code_for(flow[1])
        code = live if right and live else other_code(live)
        self.may_log_in = right and live is not None
        try:
            for _ in range(times):
                self.post("verify", {"flow": flow[0], "code": code})
        finally:
            self.may_log_in = False

    @rule(flow=flows)
    def complete_with_a_real_token(self, flow: Any) -> None:
        if not flow or not flow[2]:
            return
        code = self.kodmobi.project.code_for(flow[1])
        if code is None:
            return
        try:
            token = self.kodmobi.project.check({"session_id": flow[2], "code": code})
        except Exception:  # noqa: BLE001 - kod.mobi refused: nothing to complete
            return
        self.may_log_in = True
        try:
            self.post(
                "complete", {"flow": flow[0], "verify_token": token["verify_token"]}
            )
        finally:
            self.may_log_in = False

    @rule(flow=flows, token=st.text(min_size=1, max_size=40))
    def complete_with_a_made_up_token(self, flow: Any, token: str) -> None:
        if flow:
            self.post("complete", {"flow": flow[0], "verify_token": token})

    @rule(seconds=st.integers(min_value=1, max_value=60) | st.just(181))
    def time_passes(self, seconds: int) -> None:
        self.traveller.shift(seconds)

    @rule(kind=st.sampled_from(FAULT_KINDS), operation=st.sampled_from(OPERATIONS))
    def kodmobi_fails_once(self, kind: FaultKind, operation: str) -> None:
        self.kodmobi.faults.add(Fault(kind, frozenset({operation}), times=1))

    # -- invariants -------------------------------------------------------------

    @invariant()
    def no_code_checked_beyond_the_budget(self) -> None:
        maximum = kodmobi_settings.MAX_ATTEMPTS
        # The SDK completions check at kod.mobi directly, outside the app:
        # they are counted here too, so the bound is one check more.
        assert all(count <= maximum + 1 for count in self.checks.values()), self.checks


@override_settings(
    KODMOBI={**settings.KODMOBI, "SIGNUP": True, "BROWSER_SDK": True, "MAX_ATTEMPTS": 5}
)
class StateMachineTests(TestCase):
    def test_the_flow_holds_whatever_happens(self) -> None:
        run_state_machine_as_test(
            FlowMachine,
            settings=hypothesis_settings(
                max_examples=60,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[
                    HealthCheck.too_slow,
                    HealthCheck.filter_too_much,
                ],
                derandomize=True,
                database=None,
            ),
        )
