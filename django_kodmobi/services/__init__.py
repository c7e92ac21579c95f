"""The use cases: start, resend, verify, complete, log in.

The only place with rules; views and the API translate, they don't decide.
Each rule has one home:

- ``start``: starting a flow and sending its code again (send limits,
  destination policy, clamped expiry);
- ``verify``: checking a code and completing a browser-SDK flow (attempt
  budget, failure streaks, upstream confirmation);
- ``login``: a verified flow to a login, exactly once;
- ``channels``: channel lists and cooldowns;
- ``manual``: delivering a code the site made (kod.mobi's manual flow);
- ``flows``: binding a flow to its holder; ``context``: who is asking;
- ``recording``: status changes with their audit events and signals;
- ``trust``: browsers a person trusts after a code (step-up and the
  second factor skipped on them), and logging out everywhere;
- ``upstream``: kod.mobi calls under the circuit breaker, and what their
  errors mean to a person.

Counters and status changes are conditional UPDATEs (see
:class:`~django_kodmobi.models.OTPSessionQuerySet`); no transaction is held
open across a kod.mobi call. Signals are sent from here only.
"""

from __future__ import annotations

from datetime import datetime

from django_kodmobi import clock
from django_kodmobi.models import OTPSession, Status

from .channels import (
    ChannelCard,
    channel_cards,
    channel_name,
    channel_waits,
    get_channels,
)
from .context import ClientInfo, client_ip
from .flows import Flow, get_flow_session
from .login import (
    authenticate_flow,
    log_in,
    logged_in_flow,
    redeem_for_login,
    verify_and_log_in,
)
from .manual import manual_channels, refresh_delivery, send_code
from .start import resend_code, start_login
from .verify import complete_with_token, normalize_code, verify_code

__all__ = [
    "ChannelCard",
    "ClientInfo",
    "Flow",
    "authenticate_flow",
    "channel_cards",
    "channel_name",
    "channel_waits",
    "client_ip",
    "complete_with_token",
    "expire_stale",
    "get_channels",
    "get_flow_session",
    "log_in",
    "logged_in_flow",
    "manual_channels",
    "normalize_code",
    "redeem_for_login",
    "refresh_delivery",
    "resend_code",
    "send_code",
    "start_login",
    "verify_and_log_in",
    "verify_code",
]


def expire_stale(now: datetime | None = None) -> int:
    """Mark flows past their expiry (open or verified) expired; return how many."""
    return OTPSession.objects.stale(now).update(
        status=Status.EXPIRED, updated_at=clock.now()
    )
