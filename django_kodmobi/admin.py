"""A read-only audit of login attempts: sessions with their event timeline."""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import guards
from .exceptions import VerificationError
from .models import FailureStreak, OTPEvent, OTPSession
from .users import normalize_identifier


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OTPEventInline(ReadOnlyMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = OTPEvent
    fields = ["at", "kind", "channel", "detail"]
    readonly_fields = ["at", "kind", "channel", "detail"]
    extra = 0
    can_delete = False


@admin.register(OTPSession)
class OTPSessionAdmin(ReadOnlyMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "id",
        "masked",
        "identifier_kind",
        "purpose",
        "status",
        "channel",
        "attempts",
        "resends",
        "created_at",
        "user_link",
    ]
    list_filter = ["status", "channel", "purpose", "identifier_kind", "created_at"]
    search_fields = ["=id", "=kodmobi_session_id", "=identifier"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    inlines = [OTPEventInline]
    fieldsets = [
        (
            None,
            {"fields": ["id", "kodmobi_session_id", "purpose", "status", "user_link"]},
        ),
        (
            _("Destination"),
            {
                "fields": [
                    "identifier",
                    "identifier_kind",
                    "channel",
                    "channels_offered",
                ]
            },
        ),
        (
            _("Limits"),
            {"fields": ["attempts", "failed_attempts", "resends", "last_error"]},
        ),
        (_("Client"), {"fields": ["client_ip", "user_agent"]}),
        (
            _("Times"),
            {
                "fields": [
                    "created_at",
                    "expires_at",
                    "verified_at",
                    "consumed_at",
                    "updated_at",
                ]
            },
        ),
    ]
    readonly_fields = [
        "id",
        "kodmobi_session_id",
        "purpose",
        "status",
        "user_link",
        "identifier",
        "identifier_kind",
        "channel",
        "channels_offered",
        "attempts",
        "failed_attempts",
        "resends",
        "last_error",
        "client_ip",
        "user_agent",
        "created_at",
        "expires_at",
        "verified_at",
        "consumed_at",
        "updated_at",
    ]

    @admin.display(description=_("identifier"), ordering="identifier")
    def masked(self, obj: OTPSession) -> str:
        return obj.masked_identifier

    @admin.display(description=_("user"))
    def user_link(self, obj: OTPSession) -> str:
        if obj.user_id is None:
            return "-"
        meta = obj.user._meta  # type: ignore[union-attr]
        url = reverse(
            f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.user_id]
        )
        return format_html('<a href="{}">{}</a>', url, obj.user)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[OTPSession], search_term: str
    ) -> tuple[QuerySet[OTPSession], bool]:
        # People search for "+7 999 123-45-67" or "Anna@Example.com"; rows
        # hold the normalised form.
        with contextlib.suppress(VerificationError):
            search_term = normalize_identifier(search_term).value
        return super().get_search_results(request, queryset, search_term)


@admin.register(FailureStreak)
class FailureStreakAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Wrong codes in a row. Delete a streak to let its phone or email log in
    by code again. Streaks hold hashes: search by the phone or email itself."""

    list_display = ["failures", "blocked_until", "updated_at"]
    readonly_fields = ["failures", "blocked_until", "updated_at"]
    fields = ["failures", "blocked_until", "updated_at"]
    search_fields = ["identifier_key"]
    search_help_text = _("A phone number or email address, as typed.")
    ordering = ["-updated_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[FailureStreak], search_term: str
    ) -> tuple[QuerySet[FailureStreak], bool]:
        if not search_term.strip():
            return queryset, False
        try:
            identifier = normalize_identifier(search_term).value
        except VerificationError:
            return queryset.none(), False
        return queryset.filter(identifier_key=guards.streak_key(identifier)), False
