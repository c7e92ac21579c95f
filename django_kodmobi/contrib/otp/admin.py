from __future__ import annotations

from django.contrib import admin

from .models import KodmobiDevice


@admin.register(KodmobiDevice)
class KodmobiDeviceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "name", "contact", "confirmed", "last_used_at"]
    list_filter = ["confirmed", "last_used_at"]
    raw_id_fields = ["user", "contact"]
    readonly_fields = [
        "challenge",
        "created_at",
        "last_used_at",
        "throttling_failure_timestamp",
        "throttling_failure_count",
    ]
