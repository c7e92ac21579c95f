"""A read-only audit of login attempts: sessions with their event timeline."""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from django_kodmobi import guards, reasons
from django_kodmobi.exceptions import VerificationError
from django_kodmobi.models import (
    LIVE_STATUSES,
    Contact,
    FailureStreak,
    ManualDelivery,
    OTPEvent,
    OTPSession,
    Status,
)
from django_kodmobi.services.channels import channel_name
from django_kodmobi.users import normalize_identifier

from .base import ReadOnlyMixin, time_column
from .charts import charts_view


class IdentifierSearch:
    """People search for "+7 999 123-45-67" or "Anna@Example.com"; rows
    hold the normalised form."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        with contextlib.suppress(VerificationError):
            search_term = normalize_identifier(search_term).value
        return super().get_search_results(  # type: ignore[misc, no-any-return]
            request, queryset, search_term
        )


class EventColumns:
    """An event's time and readable reason, in the inline and the list alike."""

    when = time_column("at", _("at"))

    @admin.display(description=_("detail"))
    def why(self, obj: OTPEvent) -> str:
        return reasons.label(obj.detail)


class OTPEventInline(EventColumns, ReadOnlyMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = OTPEvent
    fields = ["when", "kind", "channel", "why"]
    readonly_fields = ["when", "kind", "channel", "why"]
    extra = 0
    can_delete = False


@admin.register(OTPEvent)
class OTPEventAdmin(EventColumns, ReadOnlyMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Every event across sessions: "all wrong codes today" is two filters."""

    list_display = ["when", "kind", "channel", "why", "session_link"]
    # Newest first, as a log is read; kinds by their labels.
    ordering = ["-at", "-id"]
    list_filter = ["kind", "at", "channel"]
    date_hierarchy = "at"
    list_select_related = ["session"]

    @admin.display(description=_("OTP session"))
    def session_link(self, obj: OTPEvent) -> str:
        url = reverse("admin:kodmobi_otpsession_change", args=[obj.session_id])
        return format_html('<a href="{}">{}</a>', url, obj.session.masked_identifier)


@admin.register(OTPSession)
class OTPSessionAdmin(IdentifierSearch, ReadOnlyMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    change_list_template = "django_kodmobi/admin/otpsession_change_list.html"
    # What fits a 1440 px screen beside the admin's two sidebars; the ID,
    # the kind, resends and the user are on each session's page.
    list_display = [
        "masked",
        "purpose",
        "state",
        "channel",
        "attempts",
        "why",
        "created",
        "client_ip",
    ]
    list_display_links = ["masked"]

    class Media:
        css = {"all": ["django_kodmobi/admin.css"]}

    # Only the values that occur: a site that never uses step-up sees no
    # "step-up" to filter by.
    list_filter = [
        "status",
        ("channel", admin.AllValuesFieldListFilter),
        ("purpose", admin.AllValuesFieldListFilter),
        "identifier_kind",
        "created_at",
    ]
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
                    "masked",
                    "identifier_kind",
                    "channel",
                    "channels",
                ]
            },
        ),
        (
            _("Limits"),
            {"fields": ["attempts", "failed_attempts", "resends", "why"]},
        ),
        (_("Client"), {"fields": ["client_ip", "user_agent"]}),
        (
            _("Times"),
            {
                "fields": [
                    "created",
                    "sent",
                    "expires",
                    "verified",
                    "consumed",
                    "updated",
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
        "masked",
        "identifier_kind",
        "channel",
        "channels",
        "attempts",
        "failed_attempts",
        "resends",
        "why",
        "client_ip",
        "user_agent",
        "created",
        "sent",
        "expires",
        "verified",
        "consumed",
        "updated",
    ]

    @admin.display(description=_("status"), ordering="status")
    def state(self, obj: OTPSession) -> str:
        """The status, with flows past their expiry shown as expired before
        ``kodmobi_cleanup`` has written it."""
        if obj.status in LIVE_STATUSES and obj.is_expired():
            return str(Status.EXPIRED.label)
        return str(obj.get_status_display())

    @admin.display(description=_("reason"), ordering="last_error")
    def why(self, obj: OTPSession) -> str:
        return reasons.label(obj.last_error)

    @admin.display(description=_("channels offered"))
    def channels(self, obj: OTPSession) -> str:
        """The channels the flow could use: kod.mobi lists the project's, Email
        for a phone included, which could never reach it."""
        offered = [c for c in obj.channels_offered or [] if isinstance(c, dict)]
        return (
            ", ".join(
                str(channel_name(kind))
                for kind in (str(c.get("type", "")) for c in offered)
                if guards.fits(obj.identifier_kind, kind)
            )
            or "-"
        )

    created = time_column("created_at", _("created"))
    sent = time_column("sent_at", _("code sent"))
    expires = time_column("expires_at", _("expires"))
    verified = time_column("verified_at", _("verified"))
    consumed = time_column("consumed_at", _("consumed"))
    updated = time_column("updated_at", _("updated"))

    def get_urls(self) -> list[URLPattern]:
        charts = path(
            "charts/",
            self.admin_site.admin_view(self.charts),
            name="kodmobi_otpsession_charts",
        )
        return [charts, *super().get_urls()]

    def charts(self, request: HttpRequest) -> HttpResponse:
        return charts_view(self, request)

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


@admin.register(ManualDelivery)
class ManualDeliveryAdmin(IdentifierSearch, ReadOnlyMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Codes the site made and kod.mobi delivered (the manual flow), with
    how each delivery ended. No code is kept."""

    list_display = [
        "created",
        "masked",
        "channel",
        "purpose",
        "status",
        "why",
        "finished",
    ]
    list_filter = [
        "status",
        ("channel", admin.AllValuesFieldListFilter),
        ("purpose", admin.AllValuesFieldListFilter),
        "created_at",
    ]
    search_fields = ["=id", "=kodmobi_message_id", "=identifier"]
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "kodmobi_message_id",
        "masked",
        "identifier_kind",
        "channel",
        "purpose",
        "status",
        "why",
        "created",
        "finished",
    )
    fields = readonly_fields

    created = time_column("created_at", _("created"))
    finished = time_column("finished_at", _("finished"))

    @admin.display(description=_("identifier"), ordering="identifier")
    def masked(self, obj: ManualDelivery) -> str:
        return obj.masked_identifier

    @admin.display(description=_("reason"), ordering="error")
    def why(self, obj: ManualDelivery) -> str:
        return reasons.label(obj.error)


class ContactColumns:
    @admin.display(description=_("phone or email"), ordering="value")
    def masked(self, obj: Contact) -> str:
        return obj.masked_value

    verified = time_column("verified_at", _("verified"))
    removed = time_column("removed_at", _("removed"))


class ContactInline(ContactColumns, ReadOnlyMixin, admin.TabularInline):  # type: ignore[type-arg]
    """A user's phones and emails, on the user's page."""

    model = Contact
    fields = readonly_fields = ("masked", "kind", "primary", "verified", "removed")
    extra = 0
    can_delete = False


@admin.register(Contact)
class ContactAdmin(ContactColumns, IdentifierSearch, ReadOnlyMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Every verified, pending and removed contact. A verified phone or
    email logs in as its user."""

    list_display = ["masked", "kind", "user", "primary", "verified", "removed"]
    list_filter = ["kind", "primary", ("verified_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["=value"]
    fields = readonly_fields = (
        "masked",
        "kind",
        "user",
        "primary",
        "verified",
        "removed",
    )


def show_contacts_on_users(site: admin.AdminSite = admin.site) -> None:
    """Add the contacts inline to the user model's admin, if registered."""
    user_admin = site._registry.get(get_user_model())
    if user_admin is not None and ContactInline not in user_admin.inlines:
        # On this instance only: other admin sites keep their own.
        user_admin.inlines = [*user_admin.inlines, ContactInline]  # type: ignore[misc]


show_contacts_on_users()


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


# Passkeys and trusted browsers have admin modules of their own (registered
# on import).
from . import passkeys as passkeys  # noqa: E402
from . import trust as trust  # noqa: E402
