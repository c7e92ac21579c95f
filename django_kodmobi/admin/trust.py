"""Trusted browsers in the audit: who trusts how many, until when, and why
each trust ended. Read-only, as the rest of the audit; the cookie's secret
is never stored, so nothing here can be copied into a browser."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from django_kodmobi.models import TrustedBrowser

from .base import ReadOnlyMixin, time_column

__all__ = ["TrustedBrowserAdmin"]


@admin.register(TrustedBrowser)
class TrustedBrowserAdmin(ReadOnlyMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "trusted", "until", "revoked", "revoked_reason"]
    list_filter = ["revoked_reason", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = readonly_fields = ("user", "trusted", "until", "revoked", "revoked_reason")
    trusted = time_column("created_at", _("trusted at"))
    until = time_column("expires_at", _("trusted until"))
    revoked = time_column("revoked_at", _("revoked at"))
