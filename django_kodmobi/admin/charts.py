"""The admin's "last 30 days" page: the audit as charts, linked from the
OTP sessions list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from django_kodmobi import reasons
from django_kodmobi.models import EventKind
from django_kodmobi.services.channels import channel_name

from . import stats
from .columns import Series, column_chart, share

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

__all__ = ["DAYS", "charts_view"]

DAYS = 30
#: Channels with a colour of their own in ``admin-charts.css``.
_COLOURED = frozenset({"telegram", "whatsapp", "sms", "email"})


@dataclass(frozen=True)
class Row:
    """One labelled bar of a horizontal chart."""

    label: str
    value: int
    text: str
    width: int  # percent of the longest bar
    css: str = "kodmobi-series-default"


@dataclass(frozen=True)
class FunnelStep:
    count: int
    percent: int  # of the flows started


def channel_css(channel: str) -> str:
    known = channel if channel in _COLOURED else "other"
    return f"kodmobi-channel-{known}"


def _rows(items: list[tuple[str, int, str, str]]) -> list[Row]:
    longest = max((value for _, value, _, _ in items), default=0)
    return [
        Row(label, value, text, share(value, longest), css)
        for label, value, text, css in items
    ]


def _failure_label(kind: str, detail: str) -> str:
    event = str(EventKind(kind).label) if kind in EventKind.values else kind
    return f"{event}: {reasons.label(detail)}" if detail else event


def charts_view(model_admin: ModelAdmin[Any], request: HttpRequest) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    report = stats.report(DAYS)
    by_passkey = stats.passkey_logins(report.days)
    sends = column_chart(
        report.days,
        [
            Series(
                channel_name(channel),
                channel_css(channel),
                {day: counts.get(channel, 0) for day, counts in report.sends.items()},
            )
            for channel in report.channels
        ],
    )
    failures = _rows(
        [
            (_failure_label(kind, detail), count, str(count), "kodmobi-series-failure")
            for kind, detail, count in report.failures
        ]
    )
    started = sum(row.started for row in report.funnel)
    funnel = [
        (
            channel_name(row.channel) if row.channel else _("no code sent"),
            channel_css(row.channel),
            [
                FunnelStep(count, share(count, row.started))
                for count in (row.started, row.sent, row.verified, row.logged_in)
            ],
        )
        for row in report.funnel
    ]
    totals = [
        sum(getattr(row, step) for row in report.funnel)
        for step in ("started", "sent", "verified", "logged_in")
    ]
    waits = _rows(
        [
            (
                channel_name(channel),
                round(wait.total_seconds()),
                _("%(seconds)s s") % {"seconds": round(wait.total_seconds())},
                channel_css(channel),
            )
            for channel, wait in sorted(report.time_to_code.items())
        ]
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": ngettext(
            "Logins in the last %(days)s day",
            "Logins in the last %(days)s days",
            DAYS,
        )
        % {"days": DAYS},
        "days": DAYS,
        "report": report,
        "starts": column_chart(
            report.days,
            [Series(_("flows started"), "kodmobi-series-starts", report.starts)],
        ),
        "logins": column_chart(
            report.days,
            [
                Series(_("logins"), "kodmobi-series-logins", report.logins),
                Series(_("logins by passkey"), "kodmobi-series-passkeys", by_passkey),
            ],
        ),
        "logins_legend": [
            (_("by code"), "kodmobi-series-logins"),
            (_("by passkey (no message sent)"), "kodmobi-series-passkeys"),
        ],
        "messages_saved": sum(by_passkey.values()),
        "sends": sends,
        "sends_legend": [
            (channel_name(channel), channel_css(channel)) for channel in report.channels
        ],
        "failures": failures,
        "funnel": funnel,
        "funnel_total": [FunnelStep(count, share(count, started)) for count in totals],
        "waits": waits,
        "daily": [
            (
                day,
                report.starts.get(day, 0),
                [report.sends.get(day, {}).get(c, 0) for c in report.channels],
                report.logins.get(day, 0),
            )
            for day in reversed(report.days)
        ],
    }
    return TemplateResponse(request, "django_kodmobi/admin/charts.html", context)
