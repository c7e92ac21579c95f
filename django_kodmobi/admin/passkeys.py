"""Passkeys in the audit: who has which, and every creation, login,
refusal and removal with its reason. Read-only, as the rest of the audit."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from django_kodmobi.models import Passkey, PasskeyEvent

from .base import ReadOnlyMixin, time_column

__all__ = ["PasskeyAdmin", "PasskeyEventAdmin"]


class PasskeyEventInline(ReadOnlyMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = PasskeyEvent
    fields = readonly_fields = ("kind", "detail", "at", "client_ip")
    ordering = ["-at", "-id"]
    extra = 0
    can_delete = False


@admin.register(Passkey)
class PasskeyAdmin(ReadOnlyMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "user", "created", "last_used", "sign_count", "backed_up"]
    list_filter = ["backed_up", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = readonly_fields = (
        "name",
        "user",
        "created",
        "last_used",
        "sign_count",
        "backed_up",
        "transports",
    )
    inlines = [PasskeyEventInline]
    created = time_column("created_at", _("created"))
    last_used = time_column("last_used_at", _("last used"))


@admin.register(PasskeyEvent)
class PasskeyEventAdmin(ReadOnlyMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Each login by passkey is a message not sent; each refusal says why."""

    list_display = ["when", "kind", "detail", "user", "passkey", "client_ip"]
    list_filter = ["kind", "detail", "at"]
    date_hierarchy = "at"
    list_select_related = ["user", "passkey"]
    ordering = ["-at", "-id"]
    when = time_column("at", _("at"))
